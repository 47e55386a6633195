"""`qsenti report`'s page in a real browser (Debian's chromium, driven by
selenium from PyPI):

 1. three tiny runs, one per method (embedding, lora, classifier) on the
    tiny Qwen3 fixture, are reported together with --data;
 2. the page opens from a file:// address (no network) with no SEVERE entry
    in the browser's console;
 3. every SVG chart is laid out with a nonzero size, as many as expected;
 4. a hostile text among the mistakes stays text (its onerror never runs);
 5. a screenshot is not blank: many distinct colours, a fair share of
    non-white pixels (decoded here with zlib: no imaging library needed).

The screenshot is kept (QSENTI_REPORT_SCREENSHOT, else report_page.png in the
working folder, ctest's build folder) and its path printed.
"""
import os
import struct
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> & \'q\''


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next((b for b in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(b)), None)
    driver = next((d for d in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.path.exists(d)), None)
    if not binary or not driver:
        raise common.CheckFailure("chromium and chromium-driver are not installed (scripts/setup-interop.sh installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


def png_pixels(path):
    """(width, height, channels, rows of bytes) of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise common.CheckFailure(f"{path}: not a PNG")
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise common.CheckFailure(f"{path}: PNG depth {depth} colour type {colour} interlace {interlace} not decoded here")
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif f == 4:
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main(report):
    args = common.parse_args(__doc__)
    from selenium.webdriver.common.by import By

    tiny = os.path.join(args.source, "tests/fixtures/refs/tiny-qwen3")
    with open(os.path.join(args.source, "data/weibo2018/train.tsv"), encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    # Both ends of the file: its tail is mostly negative.
    rows = [l for pair in zip(lines[:60], reversed(lines[-60:])) for l in pair]
    with tempfile.TemporaryDirectory(prefix="qsenti-report-") as tmp:
        train, test = os.path.join(tmp, "train.tsv"), os.path.join(tmp, "test.tsv")
        with open(train, "w", encoding="utf-8") as f:
            f.write("\n".join(rows[:80]) + "\n")
        with open(test, "w", encoding="utf-8") as f:
            f.write("\n".join(rows[80:]) + "\n" + f"{HOSTILE}\t1\n{HOSTILE}\t0\n")
        common_args = ["--model", tiny, "--train", train, "--epochs", "1", "--batch-size", "16", "--dtype", "fp32",
                       "--quiet"]
        runs = {
            "embedding": ["--max-length", "64", "--no-cache"],
            "lora": ["--max-length", "96", "--lr", "5e-3", "--lora-r", "4", "--lora-alpha", "8", "--max-steps", "4"],
            "classifier": ["--max-length", "64", "--lr", "5e-3", "--lora-r", "4", "--lora-alpha", "8"],
        }
        for method, extra in runs.items():
            common.run_qsenti(args.qsenti, ["train", "--method", method, *common_args, *extra,
                                            "--out", os.path.join(tmp, method)])
        page = os.path.join(tmp, "report.html")
        report_args = ["report", "--quiet", "--data", test, "--out", page]
        for method in runs:
            report_args += ["--run", os.path.join(tmp, method)]
        common.run_qsenti(args.qsenti, report_args)
        html = open(page, encoding="utf-8").read()
        if "<script" in html:
            report.fail("the page holds a raw <script>")
        # Per run at least the heat map, ROC, PR and reliability; four more compare the runs.
        expected_svgs = html.count("<svg")
        if expected_svgs < 4 * len(runs) + 4:
            report.fail(f"the page has {expected_svgs} charts, expected at least {4 * len(runs) + 4}")

        driver = None
        try:
            driver = browser()
            driver.get("file://" + page)
            deadline = time.monotonic() + 60
            while driver.execute_script("return document.readyState") != "complete":
                if time.monotonic() > deadline:
                    raise common.CheckFailure("the page did not finish loading in 60 s")
                time.sleep(0.2)
            severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
            report.worst("SEVERE console entries", len(severe), 0)
            for e in severe[:5]:
                print(f"  console: {e.get('message')}")
            svgs = driver.find_elements(By.TAG_NAME, "svg")
            report.worst("SVG charts missing", max(0, expected_svgs - len(svgs)), 0)
            empty = [i for i, s in enumerate(svgs) if s.size["width"] <= 0 or s.size["height"] <= 0]
            report.worst(f"SVG charts of zero size (of {len(svgs)})", len(empty), 0)
            overflow = driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            report.worst("pixels of horizontal scrolling (long paths and texts wrap)", overflow, 0)
            if driver.execute_script("return window.__pwned || 0"):
                report.fail("the hostile text ran as markup")
            shown = [t.text for t in driver.find_elements(By.CSS_SELECTOR, "table.mistakes td.text")]
            if not any(HOSTILE in t for t in shown):
                report.fail("the hostile text is not shown as text among the mistakes")
            if len(driver.find_elements(By.CSS_SELECTOR, "section.run")) != len(runs):
                report.fail("the page does not have one section per run")

            shot = os.environ.get("QSENTI_REPORT_SCREENSHOT") or os.path.abspath("report_page.png")
            if not driver.save_screenshot(shot):
                report.fail(f"the screenshot {shot} was not written")
            width, height, bpp, pixels = png_pixels(shot)
            colours, coloured = set(), 0
            for row in pixels[::2]:
                for x in range(0, width * bpp, 2 * bpp):
                    px = row[x:x + 3]
                    colours.add(px)
                    coloured += px != b"\xff\xff\xff"
            sampled = ((height + 1) // 2) * ((width + 1) // 2)
            report.worst("distinct colours in the screenshot (at least 50)", len(colours), 50, ok=len(colours) >= 50)
            share = coloured / sampled
            report.worst("share of non-white pixels (at least 0.03)", round(share, 4), 0.03, ok=share >= 0.03)
            print(f"screenshot {shot}")
        finally:
            if driver is not None:
                driver.quit()


if __name__ == "__main__":
    common.main_guard("check_report", main)
