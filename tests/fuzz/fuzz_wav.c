/* Fuzz target: decoding one audio file (plugins/audio/audio_decode.c, what
 * the audiofolder reader and background_noise run on every file) and its
 * log-mel features (audio_mel.c).
 *
 * Input: a 2-byte header, then the file's bytes.
 *   byte 0   bits 0-1: the output rate, 8000, 16000, 22050 or 44100 Hz;
 *            bits 2-3: the resampler (3: medium again); bit 4: log-mel
 *            features of the decoded clip too;
 *   byte 1   the clip length: 1 + byte 1 * 64 samples (at most 16321).
 * The bytes reach libsndfile from memory through its virtual I/O
 * (sf_open_virtual), as a file would through sf_open_fd, once their first
 * bytes say WAV, FLAC or Ogg (the seed corpus shows the fuzzer those).  On
 * success the output must be 1 to max samples, all finite, and its log-mel
 * values never NaN; on failure the status must be a DLH_E* code and the
 * message start with the input's name.  The decoder is compiled into the
 * target, so it runs instrumented; libsndfile and libsamplerate are the
 * system's unless FUZZ_SNDFILE_LIBS names an instrumented libsndfile
 * (fuzz.am, build_sndfile.sh).  regressions/wav/sndfile-* are libsndfile's
 * own bugs found that way: a MAT4 header's overflow (issue 789), which the
 * magic check now keeps out, and a misaligned store in WAV's fmt chunk
 * (issue 1150), harmless on x86. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "error.h"
#include "fuzz.h"
#include "registry.h"

const dlh_host *audio_host;

#define WAV_NAME "fuzz-input.wav"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int rates[] = { 8000, 16000, 22050, 44100 };
    static const int converters[] = { AUDIO_SRC_BEST, AUDIO_SRC_MEDIUM, AUDIO_SRC_FASTEST,
                                      AUDIO_SRC_MEDIUM };
    if (size < 2)
        return 0;
    audio_host = dlh_host_table();
    audio_spec spec = { rates[data[0] & 3], converters[data[0] >> 2 & 3],
                        1 + (int64_t)data[1] * 64 };
    float *v = NULL;
    int64_t n = 0;
    dlh_error_clear();
    int rc = audio_decode_memory(WAV_NAME, data + 2, size - 2, &spec, &v, &n);
    if (rc) {
        if (v || n)
            fuzz_fail("failed (%d) but returned %lld samples", rc, (long long)n);
        fuzz_check_error(rc, WAV_NAME);
        if (strncmp(dlh_error_get(), WAV_NAME ": ", strlen(WAV_NAME) + 2) != 0)
            fuzz_fail("the message does not start with the file's name");
        return 0;
    }
    if (!v || n < 1 || n > spec.max_out)
        fuzz_fail("decoded %lld samples, expected 1 to %lld", (long long)n,
                  (long long)spec.max_out);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            fuzz_fail("sample %lld is not finite", (long long)i);
    if (data[0] & 16 && spec.max_out > 128) {
        /* As the reader does: the clip padded to its length, then features. */
        float *clip = calloc((size_t)spec.max_out, sizeof *clip);
        audio_mel mel;
        if (!clip || audio_mel_init(&mel, spec.rate, 256, 128, 16, 0.0,
                                    (double)(spec.rate / 2), spec.max_out))
            fuzz_fail("cannot set up the log-mel transform");
        memcpy(clip, v, (size_t)n * sizeof *clip);
        double *scratch = malloc(audio_mel_scratch(&mel) * sizeof *scratch);
        float *out = malloc((size_t)(16 * mel.frames) * sizeof *out);
        if (!scratch || !out)
            fuzz_fail("out of memory");
        audio_mel_compute(&mel, clip, out, scratch);
        for (int64_t i = 0; i < 16 * mel.frames; i++)
            if (isnan(out[i]))
                fuzz_fail("log-mel value %lld is NaN", (long long)i);
        free(out);
        free(scratch);
        audio_mel_free(&mel);
        free(clip);
    }
    free(v);
    return 0;
}
