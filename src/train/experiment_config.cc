#include "kiln/train/experiment_config.h"

#include "absl/strings/str_cat.h"

namespace kiln::train {
namespace {

void parse_model(ObjectReader& root, ModelConfig* model) {
  const Json& section = root.raw("model");
  ObjectReader reader(section, "model", root.file());
  reader.require("name", &model->name);
  model->options = section;
  model->options.erase("name");
  // The model's own keys are checked by its registry entry.
}

void parse_task(ObjectReader r, TaskConfig* task) {
  r.read("name", &task->name);
  r.check_one_of("name", task->name,
                 {"classification", "language_modeling", "masked_language_modeling",
                  "multimodal_language_modeling", "simclr", "dgmr_gan"});
  r.read("label_smoothing", &task->label_smoothing);
  r.check_range("label_smoothing", task->label_smoothing, 0.0, 1.0, true, false);
  r.read("mixup", &task->mixup);
  r.read("cutmix", &task->cutmix);
  r.read("mixup_alpha", &task->mixup_alpha);
  r.check_range("mixup_alpha", task->mixup_alpha, 0.0, 1e3, false, true);
  if ((task->mixup || task->cutmix) && task->name != "classification") {
    r.fail(task->mixup ? "mixup" : "cutmix", "applies to the classification task only");
  }
  r.read("mask_rate", &task->mask_rate);
  r.check_range("mask_rate", task->mask_rate, 0.0, 1.0, false, true);
  r.read("mask_token_fraction", &task->mask_token_fraction);
  r.check_range("mask_token_fraction", task->mask_token_fraction, 0.0, 1.0);
  r.read("random_token_fraction", &task->random_token_fraction);
  r.check_range("random_token_fraction", task->random_token_fraction, 0.0,
                1.0 - task->mask_token_fraction + 1e-12);
  r.read("input_key", &task->input_key);
  if (task->input_key.empty()) r.fail("input_key", "must not be empty");
  r.read("temperature", &task->temperature);
  r.check_range("temperature", task->temperature, 0.0, 1e3, false, true);
  r.read("gan_mode", &task->gan_mode);
  r.check_one_of("gan_mode", task->gan_mode, {"gan", "regulariser", "adversarial"});
  for (const char* key : {"generator_lr", "discriminator_lr"}) {
    double* lr = std::string(key) == "generator_lr" ? &task->generator_lr : &task->discriminator_lr;
    r.read(key, lr);
    r.check_range(key, *lr, 0.0, 10.0);
  }
  r.read("discriminator_steps", &task->discriminator_steps);
  r.check_range("discriminator_steps", static_cast<double>(task->discriminator_steps), 1, 1e3);
  r.read("generator_samples", &task->generator_samples);
  r.check_range("generator_samples", static_cast<double>(task->generator_samples), 1, 1e3);
  r.read("regulariser_weight", &task->regulariser_weight);
  r.check_range("regulariser_weight", task->regulariser_weight, 0.0, 1e6);
  r.read("regulariser_min_weight", &task->regulariser_min_weight);
  r.check_range("regulariser_min_weight", task->regulariser_min_weight, 0.0, 24.0);
  r.finish();
}

void parse_augment(ObjectReader r, AugmentConfig* a) {
  r.read("random_crop_padding", &a->random_crop_padding);
  r.check_range("random_crop_padding", static_cast<double>(a->random_crop_padding), 0, 1e6);
  r.read("horizontal_flip", &a->horizontal_flip);
  r.read("mean", &a->mean);
  r.read("std", &a->std);
  if (a->mean.size() != a->std.size()) r.fail("std", "must have as many entries as mean");
  for (double s : a->std) {
    if (!(s > 0)) r.fail("std", "entries must be positive");
  }
  r.read("multiplicity", &a->multiplicity);
  r.check_range("multiplicity", static_cast<double>(a->multiplicity), 1, 1e6);
  r.finish();
}

void parse_audio(ObjectReader r, AudioDataConfig* a) {
  r.read("clip_seconds", &a->clip_seconds);
  r.check_range("clip_seconds", a->clip_seconds, 0.05, 600.0);
  r.read("features", &a->features);
  r.check_one_of("features", a->features, {"log_mel", "waveform"});
  r.read("n_mels", &a->n_mels);
  r.check_range("n_mels", static_cast<double>(a->n_mels), 1, 256);
  r.read("standardize", &a->standardize);
  r.read("crop_seconds", &a->crop_seconds);
  r.check_range("crop_seconds", a->crop_seconds, 0.0, a->clip_seconds);
  r.read("gain", &a->gain);
  r.read("min_gain_db", &a->min_gain_db);
  r.read("max_gain_db", &a->max_gain_db);
  r.check_range("max_gain_db", a->max_gain_db, a->min_gain_db, 60.0);
  r.read("noise", &a->noise);
  r.read("min_snr_db", &a->min_snr_db);
  r.read("max_snr_db", &a->max_snr_db);
  r.check_range("max_snr_db", a->max_snr_db, a->min_snr_db, 200.0);
}

void parse_radar(ObjectReader r, RadarConfig* c) {
  auto count = [&r](const char* key, int64_t* out, double lo) {
    r.read(key, out);
    r.check_range(key, static_cast<double>(*out), lo, 1e6);
  };
  auto number = [&r](const char* key, double* out, double lo, double hi, bool hi_inclusive) {
    r.read(key, out);
    r.check_range(key, *out, lo, hi, true, hi_inclusive);
  };
  count("height", &c->height, 4);
  count("width", &c->width, 4);
  count("context_frames", &c->context_frames, 1);
  count("lead_frames", &c->lead_frames, 1);
  number("max_speed", &c->max_speed, 0, 64, true);
  number("motion_variation", &c->motion_variation, 0, 4, true);
  number("max_turn", &c->max_turn, 0, 1, true);
  number("growth", &c->growth, 0, 1, false);
  number("growth_period", &c->growth_period, 1e-3, 1e9, true);
  number("min_wet_fraction", &c->min_wet_fraction, 1e-6, 1, false);
  number("max_wet_fraction", &c->max_wet_fraction, c->min_wet_fraction, 1, false);
  number("spectral_slope", &c->spectral_slope, 0, 8, true);
  number("outer_scale", &c->outer_scale, 1, 1e6, true);
  number("rate_gain", &c->rate_gain, 1e-3, 10, true);
  r.finish();
}

void parse_data(ObjectReader r, DataConfig* d) {
  r.read("name", &d->name);
  r.check_one_of(
      "name", d->name,
      {"fashion_mnist", "mnist", "cifar10", "text", "synthetic_images", "fashion_mnist_captions",
       "audio_manifest", "audio_views", "radar_synthetic", "radar_npy"});
  r.read("path", &d->path);
  r.read("batch_size", &d->batch_size);
  r.check_range("batch_size", static_cast<double>(d->batch_size), 1, 1e9);
  r.read("eval_batch_size", &d->eval_batch_size);
  r.check_range("eval_batch_size", static_cast<double>(d->eval_batch_size), 0, 1e9);
  r.read("shuffle", &d->shuffle);
  r.read("prefetch", &d->prefetch);
  parse_augment(r.object("augment"), &d->augment);
  if (d->batch_size % d->augment.multiplicity != 0) {
    r.fail("batch_size",
           absl::StrCat("(", d->batch_size, ") must be divisible by augment.multiplicity (",
                        d->augment.multiplicity, ")"));
  }
  r.read("image_shape", &d->image_shape);
  if (d->image_shape.size() != 3) r.fail("image_shape", "must be [height, width, channels]");
  for (int64_t s : d->image_shape) {
    if (s <= 0) r.fail("image_shape", "entries must be positive");
  }
  r.read("num_classes", &d->num_classes);
  r.check_range("num_classes", static_cast<double>(d->num_classes), 1, 1e9);
  r.read("num_examples", &d->num_examples);
  r.check_range("num_examples", static_cast<double>(d->num_examples), 0, 1e12);
  r.read("sequence_length", &d->sequence_length);
  r.check_range("sequence_length", static_cast<double>(d->sequence_length), 1, 1e9);
  r.read("eval_fraction", &d->eval_fraction);
  r.check_range("eval_fraction", d->eval_fraction, 0.0, 1.0, false, false);
  r.read("min_images", &d->min_images);
  r.check_range("min_images", static_cast<double>(d->min_images), 1, 1e6);
  r.read("max_images", &d->max_images);
  r.check_range("max_images", static_cast<double>(d->max_images),
                static_cast<double>(d->min_images), 1e6);
  r.read("permute_pixels", &d->permute_pixels);
  r.read("limit_train", &d->limit_train);
  r.check_range("limit_train", static_cast<double>(d->limit_train), 0, 1e12);
  r.read("limit_eval", &d->limit_eval);
  r.check_range("limit_eval", static_cast<double>(d->limit_eval), 0, 1e12);
  parse_audio(r.object("audio"), &d->audio);
  parse_radar(r.object("radar"), &d->radar);
  r.finish();
}

void parse_optimizer(ObjectReader r, OptimizerConfig* o) {
  r.read("name", &o->name);
  r.check_one_of("name", o->name, {"sgd", "adam", "adamw", "lamb"});
  r.read("lr", &o->lr);
  r.check_range("lr", o->lr, 0.0, 1e6);
  r.read("momentum", &o->momentum);
  r.check_range("momentum", o->momentum, 0.0, 1.0, true, false);
  r.read("nesterov", &o->nesterov);
  r.read("beta1", &o->beta1);
  r.check_range("beta1", o->beta1, 0.0, 1.0, true, false);
  r.read("beta2", &o->beta2);
  r.check_range("beta2", o->beta2, 0.0, 1.0, true, false);
  r.read("eps", &o->eps);
  r.check_range("eps", o->eps, 0.0, 1.0, false, true);
  r.read("weight_decay", &o->weight_decay);
  r.check_range("weight_decay", o->weight_decay, 0.0, 1e3);
  r.read("no_weight_decay", &o->no_weight_decay);
  ObjectReader agc = r.object("agc");
  agc.read("clipping", &o->agc.clipping);
  agc.check_range("clipping", o->agc.clipping, 0.0, 1e6);
  agc.read("eps", &o->agc.eps);
  agc.check_range("eps", o->agc.eps, 0.0, 1.0, false, true);
  agc.read("exclude", &o->agc.exclude);
  agc.finish();
  r.read("clip_global_norm", &o->clip_global_norm);
  r.check_range("clip_global_norm", o->clip_global_norm, 0.0, 1e12);
  r.read("max_consecutive_skips", &o->max_consecutive_skips);
  r.check_range("max_consecutive_skips", static_cast<double>(o->max_consecutive_skips), 1, 1e9);
  r.finish();
}

void parse_schedule(ObjectReader r, ScheduleConfig* s, int64_t steps) {
  r.read("name", &s->name);
  r.check_one_of("name", s->name, {"constant", "warmup_cosine", "warmup_linear", "step"});
  r.read("warmup_steps", &s->warmup_steps);
  r.check_range("warmup_steps", static_cast<double>(s->warmup_steps), 0,
                static_cast<double>(steps));
  r.read("final_lr", &s->final_lr);
  r.check_range("final_lr", s->final_lr, 0.0, 1.0);
  r.read("boundaries", &s->boundaries);
  for (size_t i = 0; i < s->boundaries.size(); ++i) {
    if (s->boundaries[i] <= 0 || (i > 0 && s->boundaries[i] <= s->boundaries[i - 1])) {
      r.fail("boundaries", "must be positive and increasing");
    }
  }
  r.read("gamma", &s->gamma);
  r.check_range("gamma", s->gamma, 0.0, 1.0, false, true);
  r.finish();
}

void parse_train(ObjectReader r, TrainConfig* t) {
  r.read("steps", &t->steps);
  r.check_range("steps", static_cast<double>(t->steps), 1, 1e12);
  int64_t seed = static_cast<int64_t>(t->seed);
  r.read("seed", &seed);
  r.check_range("seed", static_cast<double>(seed), 0, 9.2e18);
  t->seed = static_cast<uint64_t>(seed);
  r.read("log_every", &t->log_every);
  r.check_range("log_every", static_cast<double>(t->log_every), 1, 1e12);
  r.read("eval_every", &t->eval_every);
  r.check_range("eval_every", static_cast<double>(t->eval_every), 0, 1e12);
  r.read("eval_batches", &t->eval_batches);
  r.check_range("eval_batches", static_cast<double>(t->eval_batches), 0, 1e12);
  r.read("checkpoint_every", &t->checkpoint_every);
  r.check_range("checkpoint_every", static_cast<double>(t->checkpoint_every), 0, 1e12);
  r.read("keep_checkpoints", &t->keep_checkpoints);
  r.check_range("keep_checkpoints", static_cast<double>(t->keep_checkpoints), 1, 1e6);
  r.read("ema_decay", &t->ema_decay);
  r.check_range("ema_decay", t->ema_decay, 0.0, 1.0, true, false);
  r.read("eval_with_ema", &t->eval_with_ema);
  r.read("threads", &t->threads);
  r.check_range("threads", t->threads, 0, 4096);
  r.read("precision", &t->precision);
  r.check_one_of("precision", t->precision, {"f32", "bf16"});
  r.finish();
}

}  // namespace

absl::StatusOr<ExperimentConfig> parse_experiment(const Json& config, const std::string& file) {
  ExperimentConfig out;
  out.file = file;
  out.resolved = config;
  try {
    ObjectReader root(config, "", file);
    parse_model(root, &out.model);
    parse_task(root.object("task"), &out.task);
    parse_data(root.object("data"), &out.data);
    parse_optimizer(root.object("optimizer"), &out.optimizer);
    parse_train(root.object("train"), &out.train);
    parse_schedule(root.object("schedule"), &out.schedule, out.train.steps);
    root.read("output_dir", &out.output_dir);
    if (out.output_dir.empty()) root.fail("output_dir", "must not be empty");
    root.finish();
  } catch (const ConfigError& e) {
    return absl::InvalidArgumentError(e.message);
  }
  return out;
}

absl::StatusOr<ExperimentConfig> load_experiment(const std::string& path,
                                                 const std::vector<std::string>& overrides) {
  absl::StatusOr<Json> config = load_json_config(path);
  if (!config.ok()) return config.status();
  for (const std::string& assignment : overrides) {
    absl::Status status = apply_override(*config, assignment);
    if (!status.ok()) return status;
  }
  return parse_experiment(*config, path);
}

std::optional<DType> compute_dtype(const TrainConfig& train) {
  if (train.precision == "bf16") return DType::kBF16;
  return std::nullopt;
}

}  // namespace kiln::train
