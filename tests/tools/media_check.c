/*
 * media_check.c: reads a parley-sfu --capture file (src/sfu/capture.h) and tries to decode
 * the VP8 video in it with libvpx, the way a receiver would, to show what the SFU can and
 * cannot see. web/test/groupcall.test.mjs runs it on a real call's capture twice: without
 * keys (the SFU's position: every frame is SFrame ciphertext) and with the keys the browsers
 * used (each frame is SFrame-decrypted here first, RFC 9605 suite 0x0004 as in
 * web/src/sframe.ts, and must then decode cleanly, which shows the capture and the decoder are
 * sound; and no frame decoded without them may resemble the real picture). web/test/sfu.test.mjs runs it on a call without SFrame
 * (a browser straight to the SFU), where the video must decode without keys.
 *
 *   media_check CAPTURE [--pt N] [--key KID:HEX32]... [--clear]
 *
 * --clear: the media is not SFrame-protected (nothing to strip). Prints one line:
 *   streams S frames F keyframes K decrypted D decrypt_failed X decoded_ok O decode_errors E
 *   pictures P
 * where a "picture" is a decoded frame that looks like an image: its luma is smooth (mean
 * absolute difference between horizontal neighbours under 24 of 255). VP8 decodes almost any
 * byte string to *something*, so "the decoder returned a frame" alone proves little; noise
 * decodes to blocks with sharp edges everywhere, the fake camera's picture does not.
 * With keys, each frame is also decoded as captured (a second decoder per stream, the SFU's
 * view) and compared with the decrypted decode: `blind_decoded B similar M` follow, where a
 * similar frame is one whose blind picture is within 20 dB PSNR (luma) of the real one. The
 * smoothness test alone can be fooled (a garbage delta frame on a flat reference decodes
 * flat), the comparison cannot: M is the number of frames the SFU could have seen.
 * Exit status 0 unless the file cannot be read.
 */
#include "rtp.h"
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#define MAX_STREAMS 32
#define MAX_KEYS 64
#define FRAME_CAP (1 << 21)

typedef struct {
    uint64_t kid;
    uint8_t key[16], salt[12];
} sframe_key;

typedef struct {
    uint32_t ssrc;
    vpx_codec_ctx_t dec;
    vpx_codec_ctx_t blind; /* with keys: the same frames decoded undecrypted */
    uint8_t *frame;
    size_t len;
    uint32_t ts;
    uint16_t next_seq;
    bool open, broken;
} stream;

typedef struct {
    int streams, frames, keyframes, decrypted, decrypt_failed, decoded_ok, decode_errors, pictures;
    int blind_decoded, similar;
} counts;

static sframe_key keys[MAX_KEYS];
static int n_keys;
static bool clear_media;
static counts cnt;

static int hkdf(const uint8_t *ikm, const uint8_t *info, size_t info_len, uint8_t *out, size_t n) {
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *k = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, 16),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len),
        OSSL_PARAM_construct_end(),
    };
    int ok = k && EVP_KDF_derive(k, out, n, p) == 1;
    EVP_KDF_CTX_free(k);
    EVP_KDF_free(kdf);
    return ok ? 0 : -1;
}

/* RFC 9605 section 4.4.2 for suite 0x0004, as web/src/sframe.ts deriveKey. */
static int add_key(const char *arg) {
    char *end;
    uint64_t kid = strtoull(arg, &end, 10);
    uint8_t base[16];
    if (*end != ':' || strlen(end + 1) != 32 || n_keys == MAX_KEYS) return -1;
    for (int i = 0; i < 16; i++) {
        unsigned v;
        if (sscanf(end + 1 + 2 * i, "%2x", &v) != 1) return -1;
        base[i] = (uint8_t)v;
    }
    sframe_key *k = &keys[n_keys];
    uint8_t info[64];
    for (int pass = 0; pass < 2; pass++) {
        const char *label = pass ? "SFrame 1.0 Secret salt " : "SFrame 1.0 Secret key ";
        size_t l = strlen(label);
        memcpy(info, label, l);
        for (int i = 0; i < 8; i++) info[l + i] = (uint8_t)(kid >> (56 - 8 * i));
        info[l + 8] = 0x00;
        info[l + 9] = 0x04;
        if (hkdf(base, info, l + 10, pass ? k->salt : k->key, pass ? 12 : 16) < 0) return -1;
    }
    k->kid = kid;
    n_keys++;
    return 0;
}

/* Parses the SFrame header at h (config byte, then KID and CTR); its length or 0. */
static size_t sframe_header(const uint8_t *h, size_t n, uint64_t *kid, uint64_t *ctr) {
    if (n < 1) return 0;
    size_t off = 1;
    uint64_t *field[2] = { kid, ctr };
    int ext[2] = { h[0] & 0x80, h[0] & 0x08 }, v[2] = { (h[0] >> 4) & 7, h[0] & 7 };
    for (int f = 0; f < 2; f++) {
        if (!ext[f]) { *field[f] = (uint64_t)v[f]; continue; }
        size_t len = (size_t)v[f] + 1;
        if (off + len > n) return 0;
        *field[f] = 0;
        for (size_t i = 0; i < len; i++) *field[f] = (*field[f] << 8) | h[off + i];
        off += len;
    }
    return off;
}

/* Frame = prefix || header || ciphertext+tag (web/src/sframe.ts). Decrypts in place into
 * prefix || plaintext; returns the new length or 0. */
static size_t sframe_open(uint8_t *f, size_t n) {
    size_t clear = (f[0] & 1) == 0 ? 10 : 3; /* VP8 P bit clear: keyframe */
    uint64_t kid, ctr;
    if (n < clear + 1 + 16) return 0;
    size_t hl = sframe_header(f + clear, n - clear, &kid, &ctr);
    if (!hl || clear + hl + 16 > n) return 0;
    const sframe_key *k = NULL;
    for (int i = 0; i < n_keys; i++) if (keys[i].kid == kid) k = &keys[i];
    if (!k) return 0;
    uint8_t nonce[12], aad[32];
    memcpy(nonce, k->salt, 12);
    for (int i = 0; i < 8; i++) nonce[4 + i] ^= (uint8_t)(ctr >> (56 - 8 * i));
    memcpy(aad, f + clear, hl);
    memcpy(aad + hl, f, clear);
    uint8_t *ct = f + clear + hl;
    size_t ct_len = n - clear - hl - 16;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0, ok = c && EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, k->key, nonce) == 1 &&
        EVP_DecryptUpdate(c, NULL, &len, aad, (int)(hl + clear)) == 1 &&
        EVP_DecryptUpdate(c, f + clear, &len, ct, (int)ct_len) == 1 &&
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, ct + ct_len) == 1 &&
        EVP_DecryptFinal_ex(c, f + clear + len, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? clear + ct_len : 0;
}

static bool looks_like_picture(const vpx_image_t *img) {
    uint64_t sum = 0, count = 0;
    for (unsigned y = 0; y < img->d_h; y += 2) {
        const uint8_t *row = img->planes[VPX_PLANE_Y] + (size_t)y * (size_t)img->stride[VPX_PLANE_Y];
        for (unsigned x = 1; x < img->d_w; x++) { sum += (uint64_t)abs(row[x] - row[x - 1]); count++; }
    }
    return count && sum < 24 * count;
}

/* True if two decoded pictures have the same size and luma within 20 dB PSNR (MSE <= 650). */
static bool similar(const vpx_image_t *a, const vpx_image_t *b) {
    if (a->d_w != b->d_w || a->d_h != b->d_h) return false;
    uint64_t se = 0;
    for (unsigned y = 0; y < a->d_h; y++) {
        const uint8_t *ra = a->planes[VPX_PLANE_Y] + (size_t)y * (size_t)a->stride[VPX_PLANE_Y];
        const uint8_t *rb = b->planes[VPX_PLANE_Y] + (size_t)y * (size_t)b->stride[VPX_PLANE_Y];
        for (unsigned x = 0; x < a->d_w; x++) { int d = ra[x] - rb[x]; se += (uint64_t)(d * d); }
    }
    return se <= 650ull * a->d_w * a->d_h;
}

/* The next picture out of dec after feeding it n bytes, or NULL if it refused them. */
static const vpx_image_t *decode(vpx_codec_ctx_t *dec, const uint8_t *f, size_t n) {
    if (vpx_codec_decode(dec, f, (unsigned)n, NULL, 0) != VPX_CODEC_OK) return NULL;
    vpx_codec_iter_t it = NULL;
    return vpx_codec_get_frame(dec, &it);
}

static void decode_frame(stream *s) {
    cnt.frames++;
    size_t n = s->len;
    if (n && (s->frame[0] & 1) == 0) cnt.keyframes++;
    const vpx_image_t *blind = NULL;
    if (!clear_media && n_keys) {
        /* first as the SFU has it (the decoder does not change its input), then opened */
        if ((blind = decode(&s->blind, s->frame, n))) cnt.blind_decoded++;
        n = sframe_open(s->frame, n);
        if (!n) { cnt.decrypt_failed++; return; }
        cnt.decrypted++;
    }
    const vpx_image_t *img = decode(&s->dec, s->frame, n);
    if (!img) { cnt.decode_errors++; return; }
    cnt.decoded_ok++;
    if (looks_like_picture(img)) cnt.pictures++;
    if (blind && similar(img, blind)) cnt.similar++;
}

static stream *find_stream(stream *st, uint32_t ssrc) {
    for (int i = 0; i < cnt.streams; i++) if (st[i].ssrc == ssrc) return &st[i];
    if (cnt.streams == MAX_STREAMS) return NULL;
    stream *s = &st[cnt.streams];
    memset(s, 0, sizeof *s);
    s->frame = malloc(FRAME_CAP);
    if (!s->frame || vpx_codec_dec_init(&s->dec, vpx_codec_vp8_dx(), NULL, 0) != VPX_CODEC_OK) {
        free(s->frame);
        return NULL;
    }
    if (vpx_codec_dec_init(&s->blind, vpx_codec_vp8_dx(), NULL, 0) != VPX_CODEC_OK) {
        vpx_codec_destroy(&s->dec);
        free(s->frame);
        return NULL;
    }
    s->ssrc = ssrc;
    cnt.streams++;
    return s;
}

/* One RTP packet into its stream's frame assembly (RFC 7741 section 4: a frame starts at a
 * packet with S=1 and partition 0, ends at the marker bit; a gap loses the frame). */
static void on_packet(stream *st, const uint8_t *pkt, size_t len, int pt) {
    rtp_hdr h;
    vp8_desc d;
    if (rtp_parse(pkt, len, &h) < 0 || h.pt != pt) return;
    if (vp8_parse(h.payload, h.payload_len, &d) < 0) return;
    stream *s = find_stream(st, h.ssrc);
    if (!s) return;
    const uint8_t *body = h.payload + d.descriptor_len;
    size_t blen = h.payload_len - d.descriptor_len;
    if (d.start_of_partition && d.partition_id == 0) {
        s->open = true;
        s->broken = false;
        s->len = 0;
        s->ts = h.ts;
    } else if (!s->open || h.seq != s->next_seq || h.ts != s->ts) {
        s->broken = true;
    }
    s->next_seq = (uint16_t)(h.seq + 1);
    if (!s->open || s->broken) return;
    if (s->len + blen > FRAME_CAP) { s->broken = true; return; }
    memcpy(s->frame + s->len, body, blen);
    s->len += blen;
    if (h.marker) { decode_frame(s); s->open = false; }
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int pt = 96;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pt") && i + 1 < argc) pt = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
            if (add_key(argv[++i]) < 0) { fprintf(stderr, "media_check: bad --key %s\n", argv[i]); return 2; }
        } else if (!strcmp(argv[i], "--clear")) clear_media = true;
        else if (!path) path = argv[i];
        else { fprintf(stderr, "usage: media_check CAPTURE [--pt N] [--key KID:HEX32]... [--clear]\n"); return 2; }
    }
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) { fprintf(stderr, "media_check: cannot read %s\n", path ? path : "(no file)"); return 2; }
    static stream st[MAX_STREAMS];
    uint8_t hdr[6], pkt[65536];
    while (fread(hdr, 1, 6, f) == 6) {
        size_t len = (size_t)hdr[4] << 8 | hdr[5];
        if (fread(pkt, 1, len, f) != len) break;
        on_packet(st, pkt, len, pt);
    }
    fclose(f);
    for (int i = 0; i < cnt.streams; i++) {
        vpx_codec_destroy(&st[i].dec);
        vpx_codec_destroy(&st[i].blind);
        free(st[i].frame);
    }
    printf("streams %d frames %d keyframes %d decrypted %d decrypt_failed %d decoded_ok %d "
           "decode_errors %d pictures %d", cnt.streams, cnt.frames, cnt.keyframes, cnt.decrypted,
           cnt.decrypt_failed, cnt.decoded_ok, cnt.decode_errors, cnt.pictures);
    if (!clear_media && n_keys) printf(" blind_decoded %d similar %d", cnt.blind_decoded, cnt.similar);
    printf("\n");
    return 0;
}
