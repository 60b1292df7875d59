#include "kiln/train/trainer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kiln/core/context.h"
#include "kiln/data/loader.h"
#include "kiln/io/file.h"
#include "kiln/ops/autocast.h"
#include "kiln/ops/flops.h"
#include "kiln/optim/ema.h"
#include "kiln/train/checkpoint.h"
#include "kiln/train/distributed.h"
#include "kiln/train/model_registry.h"
#include "kiln/train/run_log.h"
#include "src/train/builders.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop_requested{false};

void request_stop(int) { g_stop_requested.store(true); }

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::Status write_json_atomic(const fs::path& path, const Json& value) {
  return io::write_file_atomic(path.string(), value.dump(2) + "\n");
}

std::map<std::string, Tensor> as_map(const nn::NamedTensors& tensors) {
  return std::map<std::string, Tensor>(tensors.begin(), tensors.end());
}

// Each rank's training noise (dropout, stochastic depth) comes from its own
// stretch of the Philox counters of rank 0's noise generator.
constexpr int kNoiseStreamShift = 48;

// Rank 0's values of `tensors` on every rank, loaded with `load` on the
// others.
absl::Status broadcast_tensors(
    Communicator& comm, const nn::NamedTensors& tensors, const std::string& what,
    const std::function<absl::Status(const std::map<std::string, Tensor>&)>& load) {
  std::map<std::string, Tensor> received;
  for (const auto& [name, tensor] : tensors) {
    Tensor buffer =
        comm.is_root() ? as_contiguous(tensor) : Tensor::empty(tensor.shape(), tensor.dtype());
    comm.broadcast(buffer, absl::StrCat("broadcast of ", what, " ", name, " from rank 0"));
    received[name] = buffer;
  }
  return comm.is_root() ? absl::OkStatus() : load(received);
}

// Everything one run holds while it trains.
class Run {
 public:
  Run(const ExperimentConfig& config, const TrainOptions& options)
      : config_(config),
        options_(options),
        dir_(config.output_dir),
        context_({.num_threads = config.train.threads, .seed = config.train.seed}),
        scope_(context_),
        comm_(options.communicator != nullptr ? options.communicator : &single_process_),
        distributed_(comm_->world_size() > 1) {}
  ~Run() {
    if (null_console_ != nullptr) std::fclose(null_console_);
  }

  absl::StatusOr<TrainResult> run();

 private:
  absl::Status prepare_directory();
  absl::Status build();
  absl::Status restore();
  // Everything but the tensors that a resumed run needs (checkpoint state).
  Json run_state() const;
  void apply_run_state(const Json& state);
  absl::Status save_checkpoint();
  // Data-parallel runs: fails on every rank if it failed on any.
  absl::Status agree(const absl::Status& status, const std::string& stage);
  // Data-parallel runs: rank 0's weights and state on every rank.
  absl::Status sync_from_root();
  // Data-parallel runs: the step's loss and metrics as means over the ranks
  // and its examples summed; returns whether any rank was asked to stop.
  bool reduce_step(TrainStepResult& result, bool stop_requested);
  std::map<std::string, double> evaluate();
  Json step_record(int64_t step, const TrainStepResult& r, double lr, double seconds) const;

  const ExperimentConfig& config_;
  TrainOptions options_;
  fs::path dir_;
  Context context_;
  ContextScope scope_;
  SingleProcessCommunicator single_process_;
  Communicator* comm_;
  bool distributed_;
  std::FILE* null_console_ = nullptr;  // the console of ranks other than 0
  std::unique_ptr<GradientSync> gradient_sync_;

  RunData data_;
  Generator init_gen_{0};
  std::shared_ptr<Generator> noise_gen_;
  std::shared_ptr<models::Model> model_;
  std::unique_ptr<Task> task_;
  std::vector<std::pair<std::string, std::unique_ptr<optim::Ema>>> emas_;
  optim::Schedule schedule_ = optim::Schedule::constant(0);
  std::unique_ptr<data::DataLoader> loader_;
  std::unique_ptr<CheckpointManager> checkpoints_;
  int64_t step_ = 0;  // steps completed
};

absl::Status Run::prepare_directory() {
  std::error_code ec;
  const bool has_run =
      fs::exists(dir_ / "checkpoints", ec) || fs::exists(dir_ / "metrics.jsonl", ec);
  if (has_run && !options_.resume) {
    return absl::AlreadyExistsError(
        absl::StrCat(dir_.string(),
                     " already holds a run (checkpoints or metrics.jsonl); continue it with "
                     "--resume, or set output_dir to a new directory"));
  }
  if (options_.resume && !fs::exists(dir_ / "checkpoints", ec)) {
    return absl::NotFoundError(absl::StrCat(dir_.string(), ": no checkpoints/ to resume from"));
  }
  fs::create_directories(dir_, ec);
  if (ec)
    return absl::InternalError(absl::StrCat(dir_.string(), ": cannot create: ", ec.message()));
  return write_json_atomic(dir_ / "config.json", config_.resolved);
}

absl::Status Run::build() {
  absl::StatusOr<RunData> data =
      build_data(config_, {.rank = comm_->rank(), .world_size = comm_->world_size()});
  if (!data.ok()) return data.status();
  data_ = std::move(*data);

  // Separate streams for initialisation and training noise (dropout,
  // stochastic depth): the noise generator's position is checkpointed.
  init_gen_ = Generator(config_.train.seed * 2 + 1);
  noise_gen_ = std::make_shared<Generator>(config_.train.seed * 2 + 2);
  noise_gen_->set_state(noise_gen_->seed(), static_cast<uint64_t>(comm_->rank())
                                                << kNoiseStreamShift);
  ModelContext model_context{.input_shape = data_.input_shape,
                             .num_classes = data_.num_classes,
                             .init_gen = &init_gen_,
                             .dropout_gen = noise_gen_};
  absl::StatusOr<std::shared_ptr<models::Model>> model =
      build_model(config_.model.name, config_.model.options, model_context, config_.file);
  if (!model.ok()) return model.status();
  model_ = *model;
  try {
    task_ =
        build_task(config_, model_, build_optimizer(config_.optimizer, model_->named_parameters()));
  } catch (const Error& e) {
    return absl::InvalidArgumentError(absl::StrCat(config_.file, ": optimizer: ", e.what()));
  }
  if (config_.train.ema_decay > 0) {
    for (auto& [name, module] : task_->modules()) {
      emas_.emplace_back(name, std::make_unique<optim::Ema>(
                                   *module, optim::EmaOptions{.decay = config_.train.ema_decay}));
    }
  }
  schedule_ = build_schedule(config_.schedule, config_.optimizer.lr, config_.train.steps);
  loader_ = std::make_unique<data::DataLoader>(
      data_.train_batches, data::DataLoaderOptions{.seed = config_.train.seed,
                                                   .prefetch = config_.data.prefetch ? 2 : 0});
  if (comm_->is_root()) {
    checkpoints_ = std::make_unique<CheckpointManager>((dir_ / "checkpoints").string(),
                                                       config_.train.keep_checkpoints);
  }
  if (distributed_) {
    nn::NamedTensors params;
    for (auto& [name, module] : task_->modules()) {
      for (auto& [param_name, param] : module->named_parameters()) {
        params.emplace_back(absl::StrCat(name, ".", param_name), param);
      }
    }
    gradient_sync_ = std::make_unique<GradientSync>(
        *comm_, params, GradientSyncOptions{.bucket_bytes = options_.gradient_bucket_bytes});
  }
  return absl::OkStatus();
}

absl::Status Run::save_checkpoint() {
  Checkpoint checkpoint;
  checkpoint.step = step_;
  for (auto& [name, module] : task_->modules()) checkpoint.groups[name] = module->state_dict();
  for (auto& [name, optimizer] : task_->optimizers()) {
    checkpoint.groups[name] = optimizer->state_dict();
  }
  for (auto& [name, ema] : emas_) checkpoint.groups["ema_" + name] = ema->state_dict();
  checkpoint.state = run_state();
  checkpoint.state["config"] = config_.resolved;
  return checkpoints_->save(checkpoint);
}

Json Run::run_state() const {
  const data::LoaderPosition position = loader_->position();
  // Rank 0's generator: a checkpoint holds no per-rank state.
  return {
      {"loader", {{"epoch", position.epoch}, {"batch", position.batch}}},
      {"noise_generator", {{"seed", noise_gen_->seed()}, {"offset", noise_gen_->offset()}}},
      {"task", task_->state()},
  };
}

void Run::apply_run_state(const Json& state) {
  loader_->set_position({.epoch = state.at("loader").at("epoch").get<int64_t>(),
                         .batch = state.at("loader").at("batch").get<int64_t>()});
  const uint64_t stream = static_cast<uint64_t>(comm_->rank()) << kNoiseStreamShift;
  noise_gen_->set_state(state.at("noise_generator").at("seed").get<uint64_t>(),
                        state.at("noise_generator").at("offset").get<uint64_t>() + stream);
}

absl::Status Run::restore() {
  absl::StatusOr<Checkpoint> checkpoint = checkpoints_->load_latest();
  if (!checkpoint.ok()) return checkpoint.status();
  const std::string where =
      absl::StrCat(checkpoints_->directory(), " (step ", checkpoint->step, ")");
  auto group = [&](const std::string& name) -> absl::StatusOr<std::map<std::string, Tensor>> {
    auto it = checkpoint->groups.find(name);
    if (it == checkpoint->groups.end()) {
      return absl::DataLossError(absl::StrCat(where, ": no ", name, ".safetensors"));
    }
    return as_map(it->second);
  };
  auto fail = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(where, ": ", s.message()));
  };
  for (auto& [name, module] : task_->modules()) {
    auto tensors = group(name);
    if (!tensors.ok()) return tensors.status();
    if (absl::Status s = module->load_state_dict(*tensors); !s.ok()) return fail(s);
  }
  for (auto& [name, optimizer] : task_->optimizers()) {
    auto tensors = group(name);
    if (!tensors.ok()) return tensors.status();
    if (absl::Status s = optimizer->load_state_dict(*tensors); !s.ok()) return fail(s);
  }
  for (auto& [name, ema] : emas_) {
    auto tensors = group("ema_" + name);
    if (!tensors.ok()) return tensors.status();
    if (absl::Status s = ema->load_state_dict(*tensors); !s.ok()) return fail(s);
  }
  try {
    const Json& state = checkpoint->state;
    apply_run_state(state);
    if (absl::Status s = task_->load_state(state.at("task")); !s.ok()) return fail(s);
  } catch (const Json::exception& e) {
    return absl::DataLossError(absl::StrCat(where, ": manifest state is incomplete: ", e.what()));
  } catch (const Error& e) {
    return absl::DataLossError(absl::StrCat(where, ": ", e.what()));
  }
  step_ = checkpoint->step;
  return absl::OkStatus();
}

absl::Status Run::agree(const absl::Status& status, const std::string& stage) {
  std::vector<double> failed(static_cast<size_t>(comm_->world_size()), 0.0);
  failed[static_cast<size_t>(comm_->rank())] = status.ok() ? 0.0 : 1.0;
  comm_->allreduce_sum(failed, absl::StrCat("agreement after ", stage));
  if (!status.ok()) return agreed_failure(status);
  for (size_t r = 0; r < failed.size(); ++r) {
    if (failed[r] > 0) {
      // The failing rank reports its own error.
      return agreed_failure(absl::CancelledError(
          absl::StrCat("rank ", r, " failed during ", stage, " (its message says why)")));
    }
  }
  return absl::OkStatus();
}

absl::Status Run::sync_from_root() {
  for (auto& [name, module] : task_->modules()) {
    if (absl::Status s = broadcast_tensors(
            *comm_, module->state_dict(), name,
            [&](const std::map<std::string, Tensor>& t) { return module->load_state_dict(t); });
        !s.ok()) {
      return s;
    }
  }
  for (auto& [name, optimizer] : task_->optimizers()) {
    if (absl::Status s = broadcast_tensors(
            *comm_, optimizer->state_dict(), name,
            [&](const std::map<std::string, Tensor>& t) { return optimizer->load_state_dict(t); });
        !s.ok()) {
      return s;
    }
  }
  for (auto& [name, ema] : emas_) {
    if (absl::Status s = broadcast_tensors(
            *comm_, ema->state_dict(), "ema_" + name,
            [&](const std::map<std::string, Tensor>& t) { return ema->load_state_dict(t); });
        !s.ok()) {
      return s;
    }
  }
  Json state = run_state();
  state["step"] = step_;
  std::string text = state.dump();
  comm_->broadcast(text, "broadcast of the run state from rank 0");
  if (comm_->is_root()) return absl::OkStatus();
  state = Json::parse(text);
  apply_run_state(state);
  step_ = state.at("step").get<int64_t>();
  return task_->load_state(state.at("task"));
}

bool Run::reduce_step(TrainStepResult& result, bool stop_requested) {
  std::vector<double> values = {result.loss, static_cast<double>(result.examples),
                                stop_requested ? 1.0 : 0.0};
  for (const auto& [name, value] : result.metrics) values.push_back(value);
  comm_->allreduce_sum(values, absl::StrCat("allreduce of the step ", step_ + 1, " metrics"));
  const double n = comm_->world_size();
  result.loss = values[0] / n;
  result.examples = static_cast<int64_t>(std::llround(values[1]));
  size_t i = 3;
  for (auto& [name, value] : result.metrics) value = values[i++] / n;
  return values[2] > 0;
}

std::map<std::string, double> Run::evaluate() {
  std::vector<std::unique_ptr<optim::EmaSwapScope>> swapped;
  if (config_.train.eval_with_ema) {
    for (auto& [name, ema] : emas_) swapped.push_back(std::make_unique<optim::EmaSwapScope>(*ema));
  }
  for (auto& [name, module] : task_->modules()) module->eval();
  task_->eval_begin();
  const int64_t batches = data_.eval_batches->size();
  const int64_t limit =
      config_.train.eval_batches > 0 ? std::min(batches, config_.train.eval_batches) : batches;
  // Several ranks: each evaluates every N-th batch and the task's sums are
  // added up, unless the task has no sums to add (then each evaluates all).
  const bool sharded = distributed_ && !task_->eval_totals().empty();
  const int64_t first = sharded ? comm_->rank() : 0;
  const int64_t stride = sharded ? comm_->world_size() : 1;
  for (int64_t i = first; i < limit; i += stride) task_->eval_batch(data_.eval_batches->get(i));
  if (sharded) {
    std::vector<double> totals = task_->eval_totals();
    comm_->allreduce_sum(totals, absl::StrCat("allreduce of the evaluation at step ", step_));
    task_->set_eval_totals(totals);
  }
  std::map<std::string, double> metrics = task_->eval_end();
  for (auto& [name, module] : task_->modules()) module->train();
  return metrics;
}

Json Run::step_record(int64_t step, const TrainStepResult& r, double lr, double seconds) const {
  Json record = {
      {"step", step},
      {"loss", r.loss},
      {"lr", lr},
      {"grad_norm", r.grad_norm},
      {"applied", r.applied},
      {"examples_per_second", seconds > 0 ? static_cast<double>(r.examples) / seconds : 0.0}};
  for (const auto& [name, value] : r.metrics) record[name] = value;
  return record;
}

absl::StatusOr<TrainResult> Run::run() {
  const Clock::time_point wall_start = Clock::now();
  // Only rank 0 touches the run directory; the others build the same run
  // and take rank 0's weights and state.
  absl::Status status = comm_->is_root() ? prepare_directory() : absl::OkStatus();
  if (status.ok()) status = build();
  if (status.ok() && options_.resume && comm_->is_root()) status = restore();
  if (distributed_) {
    status = agree(status, options_.resume ? "setup and resume" : "setup");
    if (status.ok()) status = sync_from_root();
    if (status.ok()) status = agree(status, "the broadcast of rank 0's state");
  }
  if (!status.ok()) return status;
  std::optional<MetricsLog> log;
  if (comm_->is_root()) {
    absl::StatusOr<MetricsLog> opened =
        MetricsLog::open((dir_ / "metrics.jsonl").string(), options_.resume ? step_ : -1);
    if (!opened.ok()) return opened.status();
    log.emplace(std::move(*opened));
  } else {
    null_console_ = std::fopen("/dev/null", "w");
    if (null_console_ == nullptr) return absl::InternalError("cannot open /dev/null");
  }

  const int64_t params = model_->num_parameters();
  ProgressBar bar(comm_->is_root() ? options_.console : null_console_, options_.interactive, step_,
                  config_.train.steps);
  bar.message(absl::StrFormat(
      "kiln: %s, %d parameters, %d training / %d held-out examples%s%s", config_.model.name, params,
      data_.train_examples, data_.eval_examples,
      distributed_ ? absl::StrFormat(", %d ranks (%d examples each per step)", comm_->world_size(),
                                     config_.data.batch_size / comm_->world_size())
                   : "",
      options_.resume ? absl::StrCat(", resumed at step ", step_) : ""));

  // train.precision "bf16": matmuls and convolutions in bf16, the rest and
  // the master weights in f32.
  const AutocastScope autocast(compute_dtype(config_.train));
  TrainResult result;
  double train_seconds = 0;
  int64_t examples = 0;
  int64_t train_flops = 0;  // of this invocation's steps
  double last_loss = NAN;
  // The training losses of the last 10% of the steps (at least one), for a
  // less noisy final_train_loss_avg; and the task's skip counter.
  std::deque<double> recent_losses;
  const size_t recent_window =
      static_cast<size_t>(std::max<int64_t>(1, (config_.train.steps - step_) / 10));
  std::optional<double> skipped_steps;
  std::map<std::string, double> eval_metrics;
  const int64_t first_step = step_;
  try {
    while (step_ < config_.train.steps) {
      const int64_t step = step_ + 1;
      const double lr = schedule_(step - 1);
      const Clock::time_point step_start = Clock::now();
      data::Batch batch = loader_->next();
      TrainStepResult r;
      {
        FlopCounter counter;  // matmul and convolution FLOPs, forward and backward
        r = task_->train_step(batch, {.step = step, .lr = lr, .gradients = gradient_sync_.get()});
        train_flops += counter.flops();
      }
      bool stop_requested = g_stop_requested.load();
      if (distributed_) {
        KILN_CHECK(!gradient_sync_->pending(), "task ", config_.task.name,
                   " ran backward without synchronising the gradients across ranks");
        // Every rank stops at the same step, whichever got the signal.
        stop_requested = reduce_step(r, stop_requested);
      }
      if (r.applied) {
        for (auto& [name, ema] : emas_) ema->update(step - 1);
      }
      const double seconds = seconds_since(step_start);
      train_seconds += seconds;
      examples += r.examples;
      step_ = step;
      last_loss = r.loss;
      recent_losses.push_back(r.loss);
      if (recent_losses.size() > recent_window) recent_losses.pop_front();
      if (auto it = r.metrics.find("skipped_steps"); it != r.metrics.end()) {
        skipped_steps = it->second;
      }
      bar.update(step, r.loss, seconds > 0 ? static_cast<double>(r.examples) / seconds : 0);

      const bool last = step == config_.train.steps;
      if (log && (step % config_.train.log_every == 0 || last || !r.applied)) {
        if (absl::Status s = log->write(step_record(step, r, lr, seconds)); !s.ok()) return s;
      }
      if ((config_.train.eval_every > 0 && step % config_.train.eval_every == 0) || last) {
        eval_metrics = evaluate();
        Json record = {{"step", step}};
        std::string line = absl::StrCat("eval at step ", step, ":");
        for (const auto& [name, value] : eval_metrics) {
          record["eval_" + name] = value;
          absl::StrAppend(&line, absl::StrFormat(" %s %.4f", name, value));
        }
        if (log) {
          if (absl::Status s = log->write(record); !s.ok()) return s;
        }
        bar.message(line);
      }
      const bool stop = (distributed_ ? stop_requested : g_stop_requested.load()) ||
                        (options_.stop_after > 0 && step - first_step >= options_.stop_after);
      if (comm_->is_root() &&
          ((config_.train.checkpoint_every > 0 && step % config_.train.checkpoint_every == 0) ||
           last || stop)) {
        if (absl::Status s = save_checkpoint(); !s.ok()) return s;
      }
      if (stop && !last) {
        result.interrupted = true;
        bar.message(absl::StrCat("stopped at step ", step,
                                 "; checkpoint saved. Continue with: "
                                 "kiln train --resume ",
                                 dir_.string()));
        break;
      }
    }
  } catch (const Error& e) {
    bar.finish();
    return absl::InternalError(absl::StrCat("training failed at step ", step_ + 1, ": ", e.what()));
  }
  bar.finish();
  if (distributed_) {
    // FLOPs of the whole job, all ranks.
    std::vector<double> flops = {static_cast<double>(train_flops)};
    comm_->allreduce_sum(flops, "allreduce of the FLOP counts");
    train_flops = static_cast<int64_t>(std::llround(flops[0]));
  }

  result.summary = {
      {"model", config_.model.name},
      {"parameters", params},
      {"steps", step_},
      {"final_train_loss", last_loss},
      {"wall_seconds", seconds_since(wall_start)},
      {"train_seconds", train_seconds},
      {"examples_per_second",
       train_seconds > 0 ? static_cast<double>(examples) / train_seconds : 0.0},
      {"interrupted", result.interrupted},
      {"flops_per_step", step_ > first_step ? train_flops / (step_ - first_step) : 0},
  };
  // Training compute of the steps done (every step of a run costs the same).
  result.summary["train_flops"] = result.summary["flops_per_step"].get<int64_t>() * step_;
  if (!recent_losses.empty()) {
    double total = 0;
    for (double loss : recent_losses) total += loss;
    result.summary["final_train_loss_avg"] = total / static_cast<double>(recent_losses.size());
  }
  if (skipped_steps) result.summary["skipped_steps"] = std::llround(*skipped_steps);
  for (const auto& [name, value] : eval_metrics) result.summary["eval_" + name] = value;
  if (distributed_) result.summary["ranks"] = comm_->world_size();
  if (comm_->is_root()) {
    if (absl::Status s = write_json_atomic(dir_ / "summary.json", result.summary); !s.ok())
      return s;
  }
  return result;
}

}  // namespace

absl::StatusOr<TrainResult> train(const ExperimentConfig& config, const TrainOptions& options) {
  g_stop_requested.store(false);
  Run run(config, options);
  return run.run();
}

void install_stop_signal_handlers() {
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  // mpirun forwards SIGUSR1 to every rank (it turns SIGINT and SIGTERM into
  // SIGTERM followed by SIGKILL a few seconds later).
  std::signal(SIGUSR1, request_stop);
}

}  // namespace kiln::train
