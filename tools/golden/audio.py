#!/usr/bin/python3
"""Golden audio features for tests/parity/audio_parity_test.cc, in numpy only.

    /usr/bin/python3 tools/golden/audio.py [--out DIR] [--check]

DIR defaults to tests/parity/golden. --check regenerates in memory and fails
if any file on disk differs. The definitions are written out here from
include/kiln/data/audio_features.h and include/kiln/data/audio.h, without
kiln's code or any audio library:

  log-mel   frames of frame_length samples every hop_length (no padding,
            partial last frame dropped), periodic Hann window, rfft zero-padded
            to n_fft; |X| or |X|^2; HTK mel scale 2595 log10(1 + f / 700) with
            n_mels triangles linear in mel between n_mels + 2 evenly spaced
            edges from f_min to f_max, peak 1; log(mel + log_offset).
  resample  output n is sum_k x[k] h(n * from / to - k) with h the
            Kaiser-windowed sinc of cutoff rolloff * min(1, to / from) / 2
            cycles per input sample, cut at zero_crossings zero crossings.

Fixtures (waveforms F32, results F64 computed in float64 from the F32
samples, so they are exact to float64 rounding):

  audio_log_mel_default  the kiln defaults (16 kHz, 400 / 160 / 512, 80 mels,
                         60-7800 Hz, magnitude, offset 1e-6): waveform (4000),
                         spectrogram (F, 257), log_mel (F, 80);
  audio_log_mel_power    8 kHz, 200 / 80 / 256, 40 mels over 0-4000 Hz, power,
                         offset 1e-3; also its filterbank (129, 40);
  audio_resample_down    44.1 kHz -> 16 kHz: x (2205), y (800);
  audio_resample_up      8 kHz -> 16 kHz: x (800), y (1600).

The test signal is a linear chirp (100 Hz to 0.45 of the sample rate) plus a
steady tone, with a silent gap of several frames so the log offset is hit.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "parity", "golden"))

_DTYPES = {np.dtype("float32"): ("F32", "<f4"), np.dtype("float64"): ("F64", "<f8")}


def safetensors_bytes(tensors, metadata):
    """The reference encoding (as tools/golden/generate.py): compact JSON
    header, __metadata__ first, tensors in insertion order, header padded with
    spaces to 8 bytes."""
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        dtype, np_dtype = _DTYPES[value.dtype]
        data = np.ascontiguousarray(value).astype(np_dtype).tobytes()
        header[name] = {"dtype": dtype, "shape": list(value.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def read_safetensors(data):
    """Parses the bytes above back (a self-check of the writer)."""
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    buf = data[8 + n:]
    types = {"F32": "<f4", "F64": "<f8"}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(buf[b:e], dtype=types[info["dtype"]]).reshape(info["shape"])
    return header["__metadata__"], out


# ----------------------------------------------------------------- signal

def test_signal(sample_rate, num_samples, gap_start, gap_length):
    """0.5 chirp(100 Hz -> 0.45 sr) + 0.2 tone(0.15 sr), silent in the gap;
    rounded to float32."""
    t = np.arange(num_samples, dtype=np.float64) / sample_rate
    duration = num_samples / sample_rate
    f0, f1 = 100.0, 0.45 * sample_rate
    chirp = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * duration)))
    tone = np.sin(2 * np.pi * 0.15 * sample_rate * t + 0.3)
    x = 0.5 * chirp + 0.2 * tone
    x[gap_start:gap_start + gap_length] = 0.0
    return x.astype(np.float32)


# ----------------------------------------------------------------- log-mel

def frames_of(x, frame_length, hop_length):
    """(F, frame_length) rows of x, F = 1 + (T - frame_length) // hop."""
    count = 0 if len(x) < frame_length else 1 + (len(x) - frame_length) // hop_length
    idx = np.arange(count)[:, None] * hop_length + np.arange(frame_length)[None, :]
    return x[idx] if count else np.zeros((0, frame_length))


def stft_spectrum(x, o):
    n = np.arange(o["frame_length"])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / o["frame_length"])  # periodic Hann
    frames = frames_of(x.astype(np.float64), o["frame_length"], o["hop_length"]) * window
    spec = np.abs(np.fft.rfft(frames, n=o["n_fft"], axis=1))
    return spec ** 2 if o["spectrum"] == "power" else spec


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def filterbank(o):
    """(n_fft / 2 + 1, n_mels): triangles linear in mel, peak 1."""
    bins = o["n_fft"] // 2 + 1
    mel = hz_to_mel(np.arange(bins) * o["sample_rate"] / o["n_fft"])[:, None]
    edges = np.linspace(hz_to_mel(o["f_min"]), hz_to_mel(o["f_max"]), o["n_mels"] + 2)
    lo, mid, hi = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    rising = (mel - lo) / (mid - lo)
    falling = (hi - mel) / (hi - mid)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel_fixture(o, seconds, gap_frames):
    num_samples = int(round(seconds * o["sample_rate"]))
    x = test_signal(o["sample_rate"], num_samples, gap_start=num_samples // 2,
                    gap_length=(gap_frames + 1) * o["frame_length"])
    spec = stft_spectrum(x, o)
    fb = filterbank(o)
    log_mel = np.log(spec @ fb + o["log_offset"])
    assert np.isfinite(log_mel).all()
    assert (log_mel == np.log(o["log_offset"])).any(), "the silent gap must reach the offset"
    return x, spec, fb, log_mel


def log_mel_meta(o):
    return {"op": "log_mel", **{k: repr(v) if isinstance(v, float) else str(v)
                                for k, v in o.items()}}


DEFAULT_OPTIONS = {"sample_rate": 16000, "frame_length": 400, "hop_length": 160, "n_fft": 512,
                   "n_mels": 80, "f_min": 60.0, "f_max": 7800.0, "spectrum": "magnitude",
                   "log_offset": 1e-6}
POWER_OPTIONS = {"sample_rate": 8000, "frame_length": 200, "hop_length": 80, "n_fft": 256,
                 "n_mels": 40, "f_min": 0.0, "f_max": 4000.0, "spectrum": "power",
                 "log_offset": 1e-3}


# ----------------------------------------------------------------- resample

def resample(x, from_rate, to_rate, zero_crossings=64, beta=8.6, rolloff=0.95):
    """Direct evaluation at every output time (no polyphase table)."""
    x = x.astype(np.float64)
    cutoff = 0.5 * rolloff * min(1.0, to_rate / from_rate)
    half_width = zero_crossings / (2 * cutoff)
    count = -(-len(x) * to_rate // from_rate)
    k = np.arange(len(x))
    y = np.empty(count)
    for n in range(count):
        d = n * from_rate / to_rate - k
        u = d / half_width
        inside = np.abs(u) < 1
        h = np.zeros(len(x))
        w = np.i0(beta * np.sqrt(1 - u[inside] ** 2)) / np.i0(beta)
        h[inside] = 2 * cutoff * np.sinc(2 * cutoff * d[inside]) * w
        y[n] = h @ x
    return y


def resample_fixture(from_rate, to_rate, seconds):
    n = int(round(seconds * from_rate))
    x = test_signal(from_rate, n, gap_start=n, gap_length=0)
    y = resample(x, from_rate, to_rate)
    meta = {"op": "resample", "from_rate": str(from_rate), "to_rate": str(to_rate),
            "zero_crossings": "64", "kaiser_beta": "8.6", "rolloff": "0.95"}
    return {"x": x, "y": y}, meta


# ----------------------------------------------------------------- all

def fixtures():
    x, spec, _, log_mel = log_mel_fixture(DEFAULT_OPTIONS, seconds=0.25, gap_frames=3)
    yield "audio_log_mel_default", ({"waveform": x, "spectrogram": spec, "log_mel": log_mel},
                                    log_mel_meta(DEFAULT_OPTIONS))
    x, spec, fb, log_mel = log_mel_fixture(POWER_OPTIONS, seconds=0.25, gap_frames=3)
    yield "audio_log_mel_power", ({"waveform": x, "spectrogram": spec, "filterbank": fb,
                                   "log_mel": log_mel}, log_mel_meta(POWER_OPTIONS))
    yield "audio_resample_down", resample_fixture(44100, 16000, seconds=0.05)
    yield "audio_resample_up", resample_fixture(8000, 16000, seconds=0.1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--check", action="store_true",
                        help="compare with the files on disk instead of writing")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    stale = []
    for name, (tensors, meta) in fixtures():
        meta = dict(meta, generator="tools/golden/audio.py", numpy=np.__version__)
        data = safetensors_bytes(tensors, meta)
        read_meta, read = read_safetensors(data)
        assert read_meta == meta and all(np.array_equal(read[k], v) for k, v in tensors.items())
        if len(data) > 200_000:
            raise AssertionError(f"{name}: {len(data)} bytes, keep fixtures small")
        path = os.path.join(args.out, name + ".safetensors")
        if args.check:
            with open(path, "rb") as f:
                if f.read() != data:
                    stale.append(path)
            continue
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        print(f"{path}: {len(data)} bytes")
    if stale:
        print("out of date (numpy versions may differ in the last bits):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
