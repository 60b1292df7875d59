// Audio augmentations for contrastive pre-training (SimCLR on audio, HARES,
// papers.md section 5: the two views of a clip are two random time crops,
// here optionally with random gain and noise). Crops work on anything with
// time first: waveforms (T) and spectrograms (F, n_mels); gain and noise are
// waveform-domain and apply before the log-mel features.
//
// Each random function reserves one Philox block from the generator it is
// given, whatever it draws (noise draws from a key derived from that block),
// so a chain of augmentations always consumes the same counters and every
// result is a pure function of (seed, counter) and the input.
#pragma once

#include <cstdint>
#include <string>

#include "kiln/data/audio.h"
#include "kiln/data/dataset.h"
#include "kiln/tensor/generator.h"
#include "kiln/tensor/tensor.h"

namespace kiln::data {

// Rows [start, start + length) of `x` (T, ...) along time, the first dim;
// rows past the end are zeros (a clip shorter than the crop is padded at the
// end). Throws kiln::Error unless 0 <= start and length >= 0.
Tensor time_crop(const Tensor& x, int64_t start, int64_t length);
// time_crop at a start uniform over [0, T - length], or 0 when T <= length.
Tensor random_time_crop(const Tensor& x, int64_t length, Generator& gen);

// `waveform` (T) f32 times 10^(gain_db / 20).
Tensor apply_gain(const Tensor& waveform, double gain_db);
// apply_gain with gain_db uniform in [min_db, max_db].
Tensor random_gain(const Tensor& waveform, double min_db, double max_db, Generator& gen);

// `waveform` (T) f32 plus white Gaussian noise whose power is the waveform's
// mean power / 10^(snr_db / 10); the noise is drawn from Philox key
// `noise_key`. A silent waveform is returned unchanged (no SNR defines it).
Tensor add_noise_at_snr(const Tensor& waveform, double snr_db, uint64_t noise_key);
// add_noise_at_snr with snr_db uniform in [min_snr_db, max_snr_db].
Tensor random_noise(const Tensor& waveform, double min_snr_db, double max_snr_db, Generator& gen);

struct AudioAugmentOptions {
  std::string key = kAudioKey;  // the (T) f32 waveform of the example
  int64_t crop_length = 0;      // samples; 0: no crop
  bool gain = false;
  double min_gain_db = -6.0;
  double max_gain_db = 6.0;
  bool noise = false;
  double min_snr_db = 10.0;
  double max_snr_db = 40.0;
};
// Crop, then gain, then noise on `options.key`, as a Transform for map().
// Follow it with log_mel_transform for spectrogram inputs. Throws kiln::Error
// for a negative crop length or an empty range (min > max).
Transform audio_augmentation(AudioAugmentOptions options);

}  // namespace kiln::data
