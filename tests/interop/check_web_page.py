"""`qsenti serve`'s web page in a real browser (Debian's chromium, driven by
selenium from PyPI), as a user would use it:

 1. a server with an API key: the page loads, says it cannot list the models
    without the key, and lists them once the key is typed;
 2. posts typed one per line are classified; every label's probability shown
    equals what `qsenti predict` gives for that text (its 6 decimals);
 3. an empty submission shows an error instead of a request;
 4. the model info panel names the run's labels;
 5. an uploaded CSV (header `label,review`, a quoted field with a comma,
    a doubled quote and a newline) is classified and the predictions CSV
    offered for download holds predict's probabilities for each text.

The model is `qsenti init --num-labels 3` (a transformers classifier folder,
which serve opens as a run): three labels, so the order of the bars matters.
"""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

TEXTS = ["今天天气真好，出去走走", "太失望了，再也不来了", "一般般吧"]
# The uploaded file's texts: RFC 4180 quoting with a comma, a quote and a newline.
FILE_TEXTS = ['还行, 就是有点贵', '他说"不错"', "第一行\n第二行", "开心"]
KEY = "page-key"


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = next((b for b in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(b)), None)
    driver = next((d for d in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.path.exists(d)), None)
    if not binary or not driver:
        raise common.CheckFailure("chromium and chromium-driver are not installed (scripts/setup-interop.sh installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1100,900"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(driver), options=opts)


def wait_for(what, fn, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            v = fn()
            if v:
                return v
        except Exception:  # the page is still changing under us
            pass
        time.sleep(0.2)
    raise common.CheckFailure(f"timed out waiting for {what}")


def main(report):
    args = common.parse_args(__doc__)
    from selenium.webdriver.common.by import By

    with tempfile.TemporaryDirectory(prefix="qsenti-web-") as tmp:
        run = os.path.join(tmp, "clf")
        common.run_qsenti(args.qsenti, ["init", "--preset", "tiny", "--num-labels", "3", "--dtype", "fp32",
                                        "--seed", "11", "--out", run])
        def predicted(texts):
            out = []
            for t in texts:
                r = common.run_qsenti(args.qsenti, ["predict", "--run", run, "--text", t, "--json", "--quiet"])
                out.append(json.loads(r.stdout.decode("utf-8").strip().splitlines()[0])["probabilities"])
            return out

        expected = predicted(TEXTS)
        expected_file = predicted(FILE_TEXTS)
        upload = os.path.join(tmp, "posts.csv")
        with open(upload, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["label", "review"])
            for i, t in enumerate(FILE_TEXTS):
                w.writerow([i % 2, t])
        labels = list(expected[0].keys())

        proc, port = common.start_server(args.qsenti, ["--run", f"weibo={run}", "--api-key", KEY, "--threads", "1"],
                                          os.path.join(tmp, "serve.log"))
        driver = None
        try:
            driver = browser()
            driver.get(f"http://127.0.0.1:{port}/")
            err = wait_for("the page to report the missing key",
                           lambda: driver.find_element(By.ID, "error").text)
            if "401" not in err and "nauthorized" not in err:
                report.fail(f"without the key the page says {err!r}, not that it was refused")
            key = driver.find_element(By.ID, "api-key")
            key.send_keys(KEY)
            driver.execute_script("arguments[0].dispatchEvent(new Event('change'))", key)
            options = wait_for("the model list", lambda: driver.find_elements(By.CSS_SELECTOR, "#model option"))
            names = [o.get_attribute("value") for o in options]
            if names != ["weibo"]:
                report.fail(f"the model list is {names}, expected ['weibo']")

            # Nothing typed: an error, no request.
            driver.find_element(By.ID, "classify").click()
            msg = wait_for("the empty-input message", lambda: driver.find_element(By.ID, "error").text)
            if "at least one text" not in msg:
                report.fail(f"an empty submission shows {msg!r}")

            box = driver.find_element(By.ID, "texts")
            box.send_keys("\n".join(TEXTS))
            driver.find_element(By.ID, "classify").click()
            rows = wait_for("the results", lambda: (lambda r: r if len(r) == len(TEXTS) else None)(
                driver.find_elements(By.CSS_SELECTOR, "#results tr.result")))
            worst, agree = 0.0, 0
            for i, row in enumerate(rows):
                shown_text = row.find_element(By.CSS_SELECTOR, "td.text").text
                if shown_text != TEXTS[i]:
                    report.fail(f"row {i + 1} shows {shown_text!r}, typed {TEXTS[i]!r}")
                shown = {p.get_attribute("data-label"): float(p.get_attribute("data-score"))
                         for p in row.find_elements(By.CSS_SELECTOR, "span.prob")}
                if sorted(shown) != sorted(labels):
                    report.fail(f"row {i + 1} shows labels {sorted(shown)}, the run has {sorted(labels)}")
                    continue
                worst = max(worst, max(abs(shown[l] - expected[i][l]) for l in labels))
                top = row.find_element(By.CSS_SELECTOR, "td.label").text
                agree += top == max(expected[i], key=expected[i].get)
            report.worst(f"page probability vs qsenti predict ({len(TEXTS)} texts x {len(labels)} labels)",
                         worst, 2e-6)
            report.worst("rows whose top label differs from predict's", len(TEXTS) - agree, 0)
            # The info panel.
            shown_labels = wait_for("the model info", lambda: driver.find_element(
                By.CSS_SELECTOR, '#info dd[data-key="labels"]').get_attribute("textContent"))
            if shown_labels != ", ".join(labels):
                report.fail(f"the info panel lists labels {shown_labels!r}, the run has {labels}")

            # A file: uploaded, classified, the predictions downloaded.
            driver.find_element(By.ID, "file").send_keys(upload)
            driver.find_element(By.ID, "classify-file").click()
            wait_for("the download link", lambda: driver.find_element(By.ID, "download").is_displayed())
            # Its bytes: fetch().text() would drop a byte-order mark, so decode keeping it.
            body = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "fetch(document.getElementById('download').href).then((r) => r.arrayBuffer())"
                ".then((b) => done(new TextDecoder('utf-8', {ignoreBOM: true}).decode(b)));")
            if not body.startswith("\ufeff"):
                report.fail("the predictions CSV has no byte-order mark (Excel would misread it)")
            rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
            if [r["text"] for r in rows] != FILE_TEXTS:
                report.fail(f"the predictions CSV holds texts {[r['text'] for r in rows]}, uploaded {FILE_TEXTS}")
            else:
                worst = max(abs(float(r[l]) - e[l]) for r, e in zip(rows, expected_file) for l in labels)
                report.worst(f"downloaded probability vs qsenti predict ({len(rows)} uploaded texts)", worst, 2e-6)

            # Always kept (ctest runs in the build folder), so a CI run leaves one to look at.
            shot = os.environ.get("QSENTI_WEB_SCREENSHOT") or os.path.abspath("web_page.png")
            if not driver.save_screenshot(shot) or os.path.getsize(shot) < 1000:
                report.fail(f"the screenshot {shot} was not written")
            print(f"screenshot {shot}")
        finally:
            if driver is not None:
                driver.quit()
            proc.terminate()
            try:
                rc = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = None
            if rc != 0:
                report.fail(f"serve ended with {rc} after SIGTERM (expected a clean exit 0)")


if __name__ == "__main__":
    common.main_guard("check_web_page", main)
