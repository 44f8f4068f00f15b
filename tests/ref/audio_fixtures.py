#!/usr/bin/python3
"""Audio fixtures for tests/test_audiofolder.c, and the reference log-mel
numbers it pastes.

Writes tests/data/audio/*.wav with the standard library's `wave` module (and
float WAV as raw bytes: `wave` writes only integer PCM), plus one FLAC file
through libsndfile (ctypes) when libsndfile is installed.  Then prints, as C
initialisers, torchaudio's MelSpectrogram(..., power=2, center=True,
pad_mode="reflect", hann periodic window, mel_scale="htk", norm=None)
followed by log(x + 1e-6) of the 16 kHz fixture, written out in numpy from
torchaudio's definitions (torchaudio.functional.spectrogram and
melscale_fbanks / _create_triangular_filterbank): torchaudio is not in
Debian 12.  Run from the source tree:  /usr/bin/python3 tests/ref/audio_fixtures.py
"""
import ctypes
import ctypes.util
import os
import struct
import sys
import wave

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "audio")


def tone(rate, seconds, freq, amp):
    t = np.arange(int(round(rate * seconds))) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def write_int_wav(name, rate, channels, width, frames):
    """frames: float array (n, channels) in [-1, 1); width 1 (unsigned) or 2."""
    frames = np.asarray(frames, dtype=np.float64).reshape(len(frames), channels)
    if width == 2:
        data = np.clip(np.round(frames * 32768), -32768, 32767).astype("<i2").tobytes()
    else:
        data = np.clip(np.round(frames * 128) + 128, 0, 255).astype(np.uint8).tobytes()
    with wave.open(os.path.join(OUT, name), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return data


def write_float_wav(name, rate, channels, frames):
    data = np.asarray(frames, dtype="<f4").reshape(-1).tobytes()
    fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * channels * 4, channels * 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


class SF_INFO(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int),
                ("channels", ctypes.c_int), ("format", ctypes.c_int),
                ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


def write_flac(name, rate, samples_i16):
    lib = ctypes.util.find_library("sndfile")
    if not lib:
        print("# libsndfile not found: no FLAC fixture", file=sys.stderr)
        return False
    sf = ctypes.CDLL(lib)
    sf.sf_open.restype = ctypes.c_void_p
    sf.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(SF_INFO)]
    sf.sf_writef_short.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    sf.sf_writef_short.restype = ctypes.c_int64
    sf.sf_close.argtypes = [ctypes.c_void_p]
    info = SF_INFO(0, rate, 1, 0x170000 | 0x0002, 0, 0)   # SF_FORMAT_FLAC | PCM_16
    h = sf.sf_open(os.path.join(OUT, name).encode(), 0x20, ctypes.byref(info))  # SFM_WRITE
    if not h:
        print("# libsndfile cannot write FLAC: no FLAC fixture", file=sys.stderr)
        return False
    buf = np.ascontiguousarray(samples_i16, dtype=np.int16)
    n = sf.sf_writef_short(h, buf.ctypes.data, len(buf))
    sf.sf_close(h)
    return n == len(buf)


# ---- torchaudio's MelSpectrogram, in numpy (float64) ----

def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + f / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def melscale_fbanks(n_freqs, f_min, f_max, n_mels, sample_rate):
    all_freqs = np.linspace(0, sample_rate // 2, n_freqs)
    m_pts = np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2)
    f_pts = mel_to_hz(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return np.maximum(0.0, np.minimum(down, up))          # (n_freqs, n_mels)


def log_mel(x, rate, n_fft, hop, n_mels):
    pad = n_fft // 2
    xp = np.pad(x, (pad, pad), mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic hann
    frames = 1 + (len(xp) - n_fft) // hop
    spec = np.stack([np.abs(np.fft.rfft(xp[t * hop:t * hop + n_fft] * window)) ** 2
                     for t in range(frames)], axis=1)      # (n_freqs, frames)
    fb = melscale_fbanks(n_fft // 2 + 1, 0.0, float(rate // 2), n_mels, rate)
    mel = fb.T @ spec                                      # (n_mels, frames)
    return np.log(mel + 1e-6)


def c_array(name, v):
    flat = np.asarray(v).reshape(-1)
    print("static const float %s[%d] = {" % (name, len(flat)))
    for i in range(0, len(flat), 6):
        print("    " + " ".join("%.9g," % x for x in flat[i:i + 6]))
    print("};")


def main():
    os.makedirs(OUT, exist_ok=True)
    # 16 kHz, 16-bit mono, 0.25 s: 440 Hz rising from 0 to 0.5, plus 3 kHz at
    # 0.1: the no-resample path and log-mel (frames that differ).
    ramp = np.arange(4000) / 4000.0
    d = write_int_wav("mix440_16k_s16.wav", 16000, 1, 2,
                      ramp * tone(16000, 0.25, 440, 0.5) + tone(16000, 0.25, 3000, 0.1))
    x16 = np.frombuffer(d, dtype="<i2").astype(np.float64) / 32768.0
    # 16 kHz, 16-bit stereo: channels with distinct exact values; the mean is exact.
    n = 400
    left = ((np.arange(n) * 37) % 200 - 100) / 256.0
    right = ((np.arange(n) * 11) % 64 - 32) / 128.0
    write_int_wav("stereo_16k_s16.wav", 16000, 2, 2, np.stack([left, right], axis=1))
    # 8 kHz, 8-bit mono, 0.25 s of 1000 Hz at 0.5: resampled up to 16 kHz.
    write_int_wav("tone1000_8k_u8.wav", 8000, 1, 1, tone(8000, 0.25, 1000, 0.5))
    # 22.05 kHz float32 stereo, 0.25 s of 1000 Hz at 0.6 (left) and 0.2 (right):
    # the mean is 0.4; resampled down to 16 kHz.
    t = tone(22050, 0.25, 1000, 1.0)
    write_float_wav("tone1000_22050_f32_stereo.wav", 22050, 2,
                    np.stack([0.6 * t, 0.2 * t], axis=1))
    # 16 kHz FLAC with the samples of mix440_16k_s16.wav: lossless, the same values.
    write_flac("mix440_16k.flac", 16000, np.frombuffer(d, dtype="<i2"))

    print("/* Generated by tests/ref/audio_fixtures.py (numpy %s). */" % np.__version__)
    # Config A: the fixture whole (T = 4000), radix-2 FFT.
    c_array("ref_logmel_a", log_mel(x16, 16000, 256, 400, 8))
    # Config B: T = 4320 (zero padded at the end), n_fft = 200 (direct DFT).
    xb = np.concatenate([x16, np.zeros(320)])
    c_array("ref_logmel_b", log_mel(xb, 16000, 200, 500, 6))
    # Config C: n_fft = 2048 (the largest usual size), hop 1000, 32 mels.
    c_array("ref_logmel_c", log_mel(x16, 16000, 2048, 1000, 32))
    # Config D: n_fft = 257, an odd prime (one stage of the generic butterfly;
    # frames = 1 + (T + 256 - 257) / hop).
    c_array("ref_logmel_d", log_mel(x16, 16000, 257, 700, 5))


if __name__ == "__main__":
    main()
