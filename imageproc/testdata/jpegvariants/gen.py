#!/usr/bin/python3
"""Regenerate imageproc/testdata/jpegvariants: JPEGs in the encodings real files
use (baseline, progressive, optimised tables, restart intervals, every chroma
layout image/jpeg decodes, greyscale, odd sizes, custom progressive scripts),
for TestFastJPEGMatchesImageJPEG, which decodes each with the fast decoder and
with image/jpeg and requires the same pixels (the decoders' outputs are the
reference, so no decoded images are stored). The *_prog_rst* files image/jpeg
rejects are compared with their twins without restart markers (same
coefficients) by TestFastJPEGRestartsPerBlock.

Run from the repository root with Debian's Python (python3-numpy) and
libjpeg-turbo's command-line tools (libjpeg-turbo-progs: cjpeg, jpegtran):

    /usr/bin/python3 imageproc/testdata/jpegvariants/gen.py

Made with libjpeg-turbo 2.1.5 (Debian 12). The content is synthetic and
deterministic: gradients, a hard-edged disc, fine stripes and noise, so that
blocks have both few and many non-zero coefficients.
"""

import os
import subprocess
import tempfile

import numpy as np

OUT = os.path.dirname(os.path.abspath(__file__))


def image(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 5.0)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) * 0.3) ** 2
    r[disc], g[disc], b[disc] = 250, 30, 60
    stripes = (x.astype(int) // 2) % 2 == 0
    g[stripes & (y > h * 0.7)] = 10
    rgb = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(rgb, 0, 255).astype(np.uint8)


def ppm(a):
    h, w, c = a.shape
    kind = b"P6" if c == 3 else b"P5"
    return kind + b"\n%d %d\n255\n" % (w, h) + a.tobytes()


# A progressive script with non-interleaved DC scans, successive
# approximation on both DC and AC, and uneven spectral bands.
SCANS = """
0: 0 0 0 1;
1: 0 0 0 1;
2: 0 0 0 1;
0: 1 5 0 2;
0: 6 63 0 2;
1: 1 63 0 1;
2: 1 63 0 1;
0: 1 63 2 1;
0: 0 0 1 0;
1: 0 0 1 0;
2: 0 0 1 0;
0: 1 20 1 0;
0: 21 63 1 0;
1: 1 63 1 0;
2: 1 63 1 0;
"""


def main():
    for f in os.listdir(OUT):
        if f.endswith(".jpg"):
            os.remove(os.path.join(OUT, f))
    tmp = tempfile.mkdtemp()
    scans = os.path.join(tmp, "scans.txt")
    with open(scans, "w") as f:
        f.write(SCANS)
    cases = []
    sizes = [(1, 1), (8, 8), (17, 9), (37, 29), (64, 48), (101, 67)]
    samplings = {"444": "1x1", "422": "2x1", "420": "2x2", "440": "1x2", "411": "4x1", "410": "4x2"}
    for i, (w, h) in enumerate(sizes):
        a = image(w, h, i)
        src = os.path.join(tmp, "in%d.ppm" % i)
        with open(src, "wb") as f:
            f.write(ppm(a))
        gsrc = os.path.join(tmp, "in%d.pgm" % i)
        with open(gsrc, "wb") as f:
            f.write(ppm(a[:, :, :1]))
        for sname, s in samplings.items():
            cases.append(("%s_%dx%d" % (sname, w, h), ["-sample", s], src))
            cases.append(("%s_%dx%d_prog" % (sname, w, h), ["-sample", s, "-progressive"], src))
            if sname != "444" and (w, h) in [(17, 9), (37, 29), (101, 67)]:
                # Restart intervals in the non-interleaved scans of a subsampled
                # component, which count blocks, not MCUs (image/jpeg rejects these).
                cases.append(("%s_%dx%d_prog_rst3" % (sname, w, h), ["-sample", s, "-progressive", "-restart", "3B"], src))
        cases.append(("420_%dx%d_opt" % (w, h), ["-optimize", "-quality", "95"], src))
        cases.append(("420_%dx%d_rst1" % (w, h), ["-restart", "1B"], src))
        cases.append(("444_%dx%d_rst2" % (w, h), ["-sample", "1x1", "-restart", "2B", "-optimize"], src))
        cases.append(("420_%dx%d_prog_rst" % (w, h), ["-progressive", "-restart", "1"], src))
        cases.append(("420_%dx%d_scans" % (w, h), ["-scans", scans], src))
        cases.append(("gray_%dx%d" % (w, h), ["-grayscale"], gsrc))
        cases.append(("gray_%dx%d_prog_rst" % (w, h), ["-grayscale", "-progressive", "-restart", "3B"], gsrc))
        cases.append(("420_%dx%d_q20" % (w, h), ["-quality", "20"], src))
        cases.append(("420_%dx%d_arith" % (w, h), ["-arithmetic"], src))  # image/jpeg: unsupported
    for name, args, src in cases:
        out = os.path.join(OUT, name + ".jpg")
        subprocess.run(["cjpeg"] + args + ["-outfile", out, src], check=True)


if __name__ == "__main__":
    main()
