/* Log-mel spectrograms, torchaudio's MelSpectrogram then log(x + 1e-6).
 *
 * torchaudio.transforms.MelSpectrogram(sample_rate=rate, n_fft, hop_length=
 * hop, n_mels, f_min, f_max, power=2.0, center=True, pad_mode="reflect",
 * window_fn=torch.hann_window (periodic), mel_scale="htk", norm=None):
 *   padded = x reflect-padded by n_fft / 2 (integer division) on each side;
 *   frame t = padded[t hop .. t hop + n_fft) times the window
 *     w[n] = 0.5 - 0.5 cos(2 pi n / n_fft);  frames = 1 + (T + 2 (n_fft / 2)
 *     - n_fft) / hop;
 *   spec[k][t] = |sum_n frame[n] e^{-2 pi i k n / n_fft}|^2, k < n_fft / 2 + 1;
 *   fb (melscale_fbanks): all_freqs = linspace(0, rate // 2, n_freqs),
 *     mel(f) = 2595 log10(1 + f / 700), m_pts = linspace(mel(f_min),
 *     mel(f_max), n_mels + 2), f_pts = 700 (10^(m / 2595) - 1),
 *     fb[k][m] = max(0, min((all_freqs[k] - f_pts[m]) / (f_pts[m+1] - f_pts[m]),
 *                         (f_pts[m+2] - all_freqs[k]) / (f_pts[m+2] - f_pts[m+1])));
 *   mel[m][t] = sum_k spec[k][t] fb[k][m];  out = log(mel + 1e-6) (natural log).
 * Computed in double.  A power-of-two n_fft uses an iterative radix-2 FFT,
 * any other a recursive mixed-radix one over n_fft's prime factors (kissfft's
 * decimation in time with its generic butterfly: n_fft (p1 + p2 + ...)
 * operations a frame, so 400 = 2^4 5^2 costs about as much as 512, and a
 * prime n_fft is a direct DFT). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"

#define AUDIO_PI 3.14159265358979323846

static double audio_hz_to_mel(double f)
{
    return 2595.0 * log10(1.0 + f / 700.0);
}

static double audio_mel_to_hz(double m)
{
    return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
}

int audio_mel_init(audio_mel *m, int rate, int n_fft, int hop, int n_mels, double f_min,
                   double f_max, int64_t samples)
{
    const dlh_host *host = audio_host;
    memset(m, 0, sizeof *m);
    int pad = n_fft / 2;
    if (n_fft < 2 || hop < 1 || n_mels < 1 || samples <= pad) {
        host->error("log-mel: needs n_fft >= 2, hop >= 1, n_mels >= 1 and more than "
                    "n_fft / 2 = %d samples (reflect padding), got %lld", pad,
                    (long long)samples);
        return DLH_EINVAL;
    }
    m->n_fft = n_fft;
    m->hop = hop;
    m->n_mels = n_mels;
    m->n_freqs = n_fft / 2 + 1;
    m->samples = samples;
    m->frames = 1 + (samples + 2 * pad - n_fft) / hop;
    m->pow2 = (n_fft & (n_fft - 1)) == 0;
    size_t nf = (size_t)m->n_freqs;
    m->window = malloc((size_t)n_fft * sizeof *m->window);
    m->fb = malloc(nf * (size_t)n_mels * sizeof *m->fb);
    m->cos_t = malloc((size_t)n_fft * sizeof *m->cos_t);
    m->sin_t = malloc((size_t)n_fft * sizeof *m->sin_t);
    m->rev = m->pow2 ? malloc((size_t)n_fft * sizeof *m->rev) : NULL;
    m->lo = malloc((size_t)n_mels * sizeof *m->lo);
    m->hi = malloc((size_t)n_mels * sizeof *m->hi);
    double *f_pts = malloc(((size_t)n_mels + 2) * sizeof *f_pts);
    if (!m->window || !m->fb || !m->cos_t || !m->sin_t || (m->pow2 && !m->rev) || !f_pts ||
        !m->lo || !m->hi) {
        free(f_pts);
        audio_mel_free(m);
        host->error("log-mel: out of memory");
        return DLH_ENOMEM;
    }
    for (int n = 0; n < n_fft; n++) {
        m->window[n] = 0.5 - 0.5 * cos(2.0 * AUDIO_PI * n / n_fft);
        m->cos_t[n] = cos(2.0 * AUDIO_PI * n / n_fft);
        m->sin_t[n] = sin(2.0 * AUDIO_PI * n / n_fft);
    }
    if (!m->pow2) {
        /* Prime factors, smallest first: n = p1 m1, m1 = p2 m2, ... */
        int rest = n_fft, at = 0;
        for (int p = 2; rest > 1; p++) {
            if (p * p > rest)
                p = rest;
            while (rest % p == 0) {
                rest /= p;
                m->factors[at++] = p;
                m->factors[at++] = rest;
            }
        }
    }
    if (m->pow2) {
        int bits = 0;
        while ((1 << bits) < n_fft)
            bits++;
        for (int i = 0; i < n_fft; i++) {
            int r = 0;
            for (int b = 0; b < bits; b++)
                r |= ((i >> b) & 1) << (bits - 1 - b);
            m->rev[i] = r;
        }
    }
    double m_min = audio_hz_to_mel(f_min), m_max = audio_hz_to_mel(f_max);
    for (int i = 0; i < n_mels + 2; i++)
        f_pts[i] = audio_mel_to_hz(m_min + (m_max - m_min) * i / (n_mels + 1));
    double top = (double)(rate / 2);
    for (int j = 0; j < n_mels; j++) {
        m->lo[j] = (int)nf;
        m->hi[j] = 0;
        for (size_t k = 0; k < nf; k++) {
            double f = nf > 1 ? top * (double)k / (double)(nf - 1) : 0.0;
            double down = (f - f_pts[j]) / (f_pts[j + 1] - f_pts[j]);
            double up = (f_pts[j + 2] - f) / (f_pts[j + 2] - f_pts[j + 1]);
            double v = down < up ? down : up;
            v = v > 0.0 ? v : 0.0;
            m->fb[(size_t)j * nf + k] = v;
            if (v > 0.0) {
                if ((int)k < m->lo[j])
                    m->lo[j] = (int)k;
                m->hi[j] = (int)k + 1;
            }
        }
    }
    free(f_pts);
    return 0;
}

void audio_mel_free(audio_mel *m)
{
    free(m->window);
    free(m->fb);
    free(m->cos_t);
    free(m->sin_t);
    free(m->rev);
    free(m->lo);
    free(m->hi);
    memset(m, 0, sizeof *m);
}

size_t audio_mel_scratch(const audio_mel *m)
{
    /* re, im of one frame; the mixed radix's output re, im and butterfly
       scratch re, im; the power spectrum */
    return 6 * (size_t)m->n_fft + (size_t)m->n_freqs;
}

/* In-place radix-2 FFT of (re, im), forward (e^{-i...}). */
static void audio_fft(const audio_mel *m, double *re, double *im)
{
    int n = m->n_fft;
    for (int i = 0; i < n; i++) {
        int j = m->rev[i];
        if (j > i) {
            double t = re[i]; re[i] = re[j]; re[j] = t;
            t = im[i]; im[i] = im[j]; im[j] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        int half = len >> 1, step = n / len;
        for (int s = 0; s < n; s += len)
            for (int k = 0; k < half; k++) {
                double wr = m->cos_t[k * step], wi = -m->sin_t[k * step];
                int a = s + k, b = a + half;
                double xr = re[b] * wr - im[b] * wi, xi = re[b] * wi + im[b] * wr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
    }
}

/* kissfft's kf_work over a real input: out[0..p m) is the DFT of the p m
   values in[0], in[fstride], ... (fstride: the input stride so far), with
   factors f = { p, m, ... }. */
static void audio_fft_mixed(const audio_mel *m, double *ore, double *oim, const double *in,
                            int fstride, const int *f, double *sre, double *sim)
{
    int p = f[0], mm = f[1], n = m->n_fft;
    if (mm == 1) {
        for (int k = 0; k < p; k++) {
            ore[k] = in[(size_t)k * (size_t)fstride];
            oim[k] = 0.0;
        }
    } else {
        for (int k = 0; k < p; k++)
            audio_fft_mixed(m, ore + k * mm, oim + k * mm, in + (size_t)k * (size_t)fstride,
                            fstride * p, f + 2, sre, sim);
    }
    /* the generic butterfly: p outputs from p sub-transforms of length mm */
    for (int u = 0; u < mm; u++) {
        for (int q = 0, k = u; q < p; q++, k += mm) {
            sre[q] = ore[k];
            sim[q] = oim[k];
        }
        for (int q1 = 0, k = u; q1 < p; q1++, k += mm) {
            double r = sre[0], i = sim[0];
            int tw = 0;
            for (int q = 1; q < p; q++) {
                tw += fstride * k;
                if (tw >= n)
                    tw -= n;
                double wr = m->cos_t[tw], wi = -m->sin_t[tw];
                r += sre[q] * wr - sim[q] * wi;
                i += sre[q] * wi + sim[q] * wr;
            }
            ore[k] = r;
            oim[k] = i;
        }
    }
}

void audio_mel_compute(const audio_mel *m, const float *x, float *out, double *scratch)
{
    int n_fft = m->n_fft, pad = n_fft / 2, nf = m->n_freqs;
    int64_t T = m->samples;
    double *re = scratch, *im = scratch + n_fft, *ore = scratch + 2 * n_fft,
           *oim = scratch + 3 * n_fft, *sre = scratch + 4 * n_fft, *sim = scratch + 5 * n_fft,
           *pw = scratch + 6 * n_fft;
    for (int64_t t = 0; t < m->frames; t++) {
        int64_t start = t * m->hop - pad;
        for (int n = 0; n < n_fft; n++) {
            int64_t i = start + n;
            /* reflect: mirror without repeating the edge sample */
            if (i < 0)
                i = -i;
            if (i >= T)
                i = 2 * (T - 1) - i;
            re[n] = (double)x[i] * m->window[n];
            im[n] = 0.0;
        }
        if (m->pow2) {
            audio_fft(m, re, im);
            for (int k = 0; k < nf; k++)
                pw[k] = re[k] * re[k] + im[k] * im[k];
        } else {
            audio_fft_mixed(m, ore, oim, re, 1, m->factors, sre, sim);
            for (int k = 0; k < nf; k++)
                pw[k] = ore[k] * ore[k] + oim[k] * oim[k];
        }
        for (int j = 0; j < m->n_mels; j++) {
            double s = 0.0;
            const double *fb = m->fb + (size_t)j * (size_t)nf;
            /* Each triangle covers a few bins: sum those only. */
            for (int k = m->lo[j]; k < m->hi[j]; k++)
                s += pw[k] * fb[k];
            out[(int64_t)j * m->frames + t] = (float)log(s + 1e-6);
        }
    }
}
