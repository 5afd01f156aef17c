#!/usr/bin/python3
"""Browser test of the dashboard: Debian's headless Chromium driven by chromium-driver
through Debian's python3-selenium.

Starts tests/dashboard_fixture (a store holding real LeNet5 matching runs at four
lambdas, and three more created within a second, served on an ephemeral port), loads the
dashboard and checks that the runs table shows every run, that the energy plot has one
point per run (from the DOM: the canvas's data-point-count, the hidden data table and
Chart.js's own dataset), one precision per metric column, the filter, the run page's
per-layer bars and candidates, the jobs page and the token prompt. Of the runs created
within a second (ids sharing a long prefix): their rows' labels are distinct, params show
as given ("1e-7", "0.8"), and the scatter tells runs on and off the Pareto front apart and
names a run on hover. Of the sweep (three children with real matching and fabricated
training figures): its page draws one point per child before and after retraining, the
front in another shape and colour, the quantized baseline and sigma per layer against
lambda; a child's page draws every per-epoch curve from the metric histories. Last, the dashboard over HTTPS only, with a
self-signed certificate made by the openssl command (Chromium runs with
--ignore-certificate-errors; the API is checked against the certificate): the token prompt and
the runs table. Screenshots go to --out. Exit code 77 (a skip for ctest) when
Chromium, chromedriver, Selenium, openssl or ../shared is missing.

  /usr/bin/python3 tests/dashboard_browser_test.py --fixture build/tests/dashboard_fixture --out build/dashboard
"""
import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1100",
                  "--ignore-certificate-errors"]  # the HTTPS server's certificate is self-signed
TOKEN = "team-secret-token"


def skip(message):
    print("SKIP: " + message)
    sys.exit(SKIP)


def start_fixture(fixture, data_dir, extra):
    process = subprocess.Popen([fixture, "--data", data_dir, "--serve", "--test-images", "500", *extra],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("port "):
        code = process.wait(timeout=10)
        if code == SKIP:
            skip("the reference material (../shared) is missing")
        raise SystemExit(f"dashboard_fixture did not start (exit code {code})")
    return process, int(line.split()[1])


def stop(process):
    process.stdin.close()  # the fixture stops serving when stdin closes
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def full_page_screenshot(driver, path):
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height, 600), 4000))
    time.sleep(0.4)  # let Chart.js redraw at the new size
    driver.save_screenshot(path)
    driver.set_window_size(1400, 1100)


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print("ok: " + message)


def decimals(text):
    """How many digits a number's text has after its decimal point."""
    return len(text.split(".")[1]) if "." in text else 0


def check_metric_precision(driver):
    """Every metric column of the runs table shows its values with one number of decimals."""
    columns = driver.execute_script(
        "const heads=[...document.querySelectorAll('#runs-table th')];"
        "return heads.map((th,i)=>[th.dataset.order,[...document.querySelectorAll('#runs-table tbody tr')]"
        ".map(tr=>tr.children[i].textContent)]).filter(([ref])=>ref&&ref.startsWith('metrics.'));")
    for ref, texts in columns:
        check(len({decimals(t) for t in texts if t}) == 1, f"{ref} shows one precision ({texts})")


def check_burst_run_labels(driver, load, base, experiment_id):
    """Runs created within a second: distinct row labels, the full id on hover and on the run
    page. Returns run id -> the row's label."""
    from selenium.webdriver.common.by import By
    runs = json.load(urllib.request.urlopen(f"{base}/api/experiments/{experiment_id}/runs"))["runs"]
    ids = [r["info"]["run_id"] for r in runs]
    starts = [r["info"]["start_time"] for r in runs]
    shared = len(os.path.commonprefix(ids))
    check(len(ids) == 3 and max(starts) - min(starts) < 1000 and shared >= 8,
          f"3 runs created within a second, their ids share {shared} leading characters")
    load(f"/experiments/{experiment_id}")
    rows = driver.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")
    labels = {r.get_attribute("data-run-id"): r.find_element(By.CSS_SELECTOR, "td.run").text for r in rows}
    check(len(rows) == 3 and len(set(labels.values())) == 3, f"the 3 rows' visible labels are distinct ({labels})")
    hover = {r.get_attribute("data-run-id"): r.find_element(By.CSS_SELECTOR, "td.run .run-id").get_attribute("title")
             for r in rows}
    check(all(run_id == title for run_id, title in hover.items()), "each row's id shows the full run id on hover")
    load(f"/runs/{ids[0]}")
    check(ids[0] in driver.find_element(By.CSS_SELECTOR, "dl.kv").text, "the run page shows the full run id")
    return labels


def check_params_as_given(driver, load, experiment_id):
    """The lambdas given as "1e-7" and "0.8" show exactly so, right-aligned, in the table and on the run page."""
    from selenium.webdriver.common.by import By
    load(f"/experiments/{experiment_id}")
    column = driver.execute_script(
        "const i=[...document.querySelectorAll('#runs-table th')].findIndex(th=>th.dataset.order==='params.lambda');"
        "return [...document.querySelectorAll('#runs-table tbody tr')].map(tr=>"
        "[tr.dataset.runId, tr.children[i].textContent, getComputedStyle(tr.children[i]).textAlign]);")
    shown = sorted(text for _, text, _ in column)
    check(shown == ["0.01", "0.8", "1e-7"], f"the lambda column shows the params as given ({shown})")
    check(all(align == "right" for _, _, align in column), "the numeric lambda column is right-aligned")
    tiny = next(run_id for run_id, text, _ in column if text == "1e-7")
    load(f"/runs/{tiny}")
    params = driver.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('dl.kv')[1].querySelectorAll('dt')]"
        ".map(dt=>[dt.textContent, dt.nextElementSibling.textContent]));")
    check(params.get("lambda") == "1e-7", f"the 1e-7 run's page shows lambda 1e-7 ({params.get('lambda')})")


def chart_points(driver, canvas_id):
    """Chart.js's own datasets of a chart: label -> {points: [(x, y)], style, colour}."""
    sets = driver.execute_script(
        f"return Chart.getChart('{canvas_id}').data.datasets.map(d=>[d.label, d.data.map(p=>[p.x,p.y]), d.pointStyle,"
        " d.backgroundColor, d.borderColor])")
    return {label: {"points": [tuple(p) for p in points], "style": style, "colour": (fill, line)}
            for label, points, style, fill, line in sets}


def same_points(drawn, expected):
    """The same (x, y) points in any order, to float precision."""
    key = lambda p: (round(p[0], 9), round(p[1], 9))
    return sorted(map(key, drawn)) == sorted(map(key, expected))


def hover(driver, canvas_id, dataset_index, index):
    """Moves the mouse onto a point of a chart and returns its tooltip's lines."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    chart = f"Chart.getChart('{canvas_id}')"
    canvas = driver.find_element(By.ID, canvas_id)
    x, y = driver.execute_script(f"const p={chart}.getDatasetMeta({dataset_index}).data[{index}]; return [p.x, p.y]")
    ActionChains(driver).move_to_element_with_offset(canvas, int(x - canvas.size["width"] / 2),
                                                     int(y - canvas.size["height"] / 2)).perform()
    WebDriverWait(driver, 5).until(lambda d: d.execute_script(f"return {chart}.tooltip.opacity > 0"))
    return driver.execute_script(f"return {chart}.tooltip.body.flatMap(b=>b.lines)")


def check_scatter_front(driver, load, base, experiment_id, labels, out):
    """The scatter draws runs off the Pareto front unlike those on it (and says so in the
    legend), and hovering the run off the front names it as its row does."""
    from selenium.webdriver.support.ui import WebDriverWait
    points = json.load(urllib.request.urlopen(f"{base}/api/experiments/{experiment_id}/energy"))["points"]
    off_front = [p["run_id"] for p in points if not p["pareto"]]
    check(len(off_front) == 1, f"the API puts one run off the Pareto front ({off_front})")
    load(f"/experiments/{experiment_id}")
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return !!Chart.getChart('energy-accuracy-plot')"))
    chart = "Chart.getChart('energy-accuracy-plot')"
    sets = driver.execute_script(f"return {chart}.data.datasets.map(d=>[d.data.length, d.pointStyle, d.backgroundColor])")
    legend = driver.execute_script(f"return {chart}.legend.legendItems.map(i=>[i.text, i.pointStyle])")
    check([n for n, _, _ in sets] == [1, 2] and sets[0][1] != sets[1][1] and sets[0][2] != sets[1][2],
          f"1 run off the front and 2 on it, in other shapes and colours ({sets})")
    check([text for text, _ in legend] == ["off the Pareto front", "on the Pareto front"] and legend[0][1] != legend[1][1],
          f"the legend names both with their shapes ({legend})")
    lines = hover(driver, "energy-accuracy-plot", 0, 0)
    expected = labels[off_front[0]] + ": λ=1e-7,"
    check(len(lines) == 1 and lines[0].startswith(expected), f"hovering the point off the front names its run ({lines})")
    driver.save_screenshot(os.path.join(out, "dashboard_burst.png"))


def sweep_runs(base, experiment_id):
    """The sweep run of an experiment, its children by run id, and its /sweep summary."""
    runs = json.load(urllib.request.urlopen(f"{base}/api/experiments/{experiment_id}/runs"))["runs"]
    parent = next(r for r in runs if r["tags"].get("agnx.kind") == "sweep")["info"]["run_id"]
    children = {r["info"]["run_id"]: r for r in runs if r["tags"].get("mlflow.parentRunId") == parent}
    summary = json.load(urllib.request.urlopen(f"{base}/api/runs/{parent}/sweep"))
    return parent, children, summary


def check_sweep_page(driver, load, base, experiment_id, out):
    """A sweep's page: one point per child before and after retraining (Chart.js's datasets
    against the API's summary), the front marked in another shape and colour, the quantized
    baseline, a child named on hover, and one sigma line per layer against lambda."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    parent, children, summary = sweep_runs(base, experiment_id)
    points, pareto = summary["points"], summary["pareto"]
    check(len(children) == 3 and len(points) == 3, f"the fixture's sweep has 3 children, all finished ({len(points)})")
    check(0 < len(pareto) < len(points), f"some but not all of its points are on the front ({pareto})")
    load(f"/runs/{parent}")
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return !!Chart.getChart('sweep-front-plot')"))
    sets = chart_points(driver, "sweep-front-plot")
    xy = lambda key, ps: [(p["relative_energy"], p["top1"][key]) for p in ps]
    check(same_points(sets["before retraining"]["points"], xy("approximate", points)),
          f"one point per child before retraining ({sets['before retraining']['points']})")
    after = sets["after retraining"]
    check(same_points(after["points"], xy("retrained", points)), f"one point per child after retraining ({after['points']})")
    front = sets["Pareto front (after retraining)"]
    check(same_points(front["points"], xy("retrained", [points[i] for i in pareto])),
          f"the front holds the API's front points ({front['points']})")
    check(front["style"] != after["style"] and front["colour"] != after["colour"],
          f"the front is drawn in another shape and colour ({front['style']} {front['colour']} vs {after['style']} {after['colour']})")
    baselines = [v for label, v in sets.items() if label.startswith("quantized")]
    check(len(baselines) == 1 and {y for _, y in baselines[0]["points"]} == {p["top1"]["quantized"] for p in points},
          f"the quantized baseline is a line at the children's quantized top-1 ({baselines})")
    legend = driver.execute_script("return Chart.getChart('sweep-front-plot').legend.legendItems.map(i=>i.text)")
    check(set(sets) == set(legend), f"the legend names every dataset ({legend})")
    canvas = driver.find_element(By.ID, "sweep-front-plot")
    check(canvas.get_attribute("data-point-count") == str(len(points)) and
          canvas.get_attribute("data-pareto-count") == str(len(pareto)), "the canvas carries the point and front counts")

    off_front = next(i for i in range(len(points)) if i not in pareto)
    child = children[points[off_front]["run_id"]]
    labels = list(sets)
    drawn = sets["before retraining"]["points"].index(xy("approximate", [points[off_front]])[0])
    lines = hover(driver, "sweep-front-plot", labels.index("before retraining"), drawn)
    check(any(child["info"]["run_name"] in line and f"λ={child['params']['lambda']}," in line for line in lines),
          f"hovering a point names its child run and lambda ({lines})")

    sigma = chart_points(driver, "sweep-sigma-plot")
    layers = sorted({layer for p in points for layer in p["sigma"]})
    check(sorted(sigma) == layers, f"one sigma line per layer ({sorted(sigma)})")
    check(all(same_points(sigma[layer]["points"], [(p["lambda"], p["sigma"][layer]) for p in points]) for layer in layers),
          "each layer's line has its sigma at every lambda")
    rows = driver.find_elements(By.CSS_SELECTOR, "#sweep-table tbody tr")
    check(len(rows) == len(children), f"the children table lists every child ({len(rows)})")
    full_page_screenshot(driver, os.path.join(out, "dashboard_sweep.png"))
    return parent, children


def check_child_epochs(driver, load, base, parent, child, out):
    """A sweep child's page draws every per-epoch history (search and retraining) as the API
    gives it: loss, top-1 and, for the search, sigma per layer; and links to its sweep."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    run_id = child["info"]["run_id"]
    keys = sorted(k for k in child["metrics"] if k.startswith(("search.", "retrain.")))
    query = "&".join("key=" + urllib.request.quote(k) for k in keys)
    history = json.load(urllib.request.urlopen(f"{base}/api/runs/{run_id}/history?{query}"))["metrics"]
    load(f"/runs/{run_id}")
    ids = ["epochs-search-loss", "epochs-search-top1", "epochs-search-sigma", "epochs-retrain-loss", "epochs-retrain-top1"]
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(f"return {json.dumps(ids)}.every(id=>!!Chart.getChart(id))"))
    drawn = {}
    for canvas_id in ids:
        phase, group = canvas_id.split("-")[1:]
        for label, dataset in chart_points(driver, canvas_id).items():
            drawn[f"{phase}.{'sigma.' if group == 'sigma' else ''}{label}"] = dataset["points"]
    check(sorted(drawn) == keys, f"every per-epoch metric has its curve ({sorted(drawn)})")
    check(all(same_points(drawn[k], [(m["step"], m["value"]) for m in history[k]]) for k in keys),
          "each curve holds the metric's history, epoch by epoch")
    epochs = {phase: int(child["params"][f"{phase}_epochs"]) for phase in ("search", "retrain")}
    check(all(len(drawn[k]) == epochs[k.split(".")[0]] for k in keys), f"one point per epoch ({epochs})")
    layers = [k for k in keys if k.startswith("search.sigma.")]
    check(len(layers) == len([p for p in child["params"] if p.startswith("sigma.")]), f"a sigma curve per layer ({layers})")
    link = driver.find_element(By.ID, "parent-run-link").get_attribute("href")
    check(link.endswith(f"#/runs/{parent}"), "the child's page links to its sweep")
    full_page_screenshot(driver, os.path.join(out, "dashboard_sweep_child.png"))


def self_signed_certificate(work):
    """A self-signed certificate for 127.0.0.1 and localhost and its key, made with openssl in `work`."""
    cert, key = os.path.join(work, "dashboard.pem"), os.path.join(work, "dashboard.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    return cert, key


def check_https(driver, wait, fixture, work, processes, out):
    """The dashboard over HTTPS only, with a self-signed certificate and a token: the API answers
    (verified against the certificate) with the token only; the page asks for the token and shows
    the runs."""
    from selenium.webdriver.common.by import By
    cert, key = self_signed_certificate(work)
    server, port = start_fixture(fixture, os.path.join(work, "data"),
                                 ["--token", TOKEN, "--tls-cert", cert, "--tls-key", key])
    processes.append(server)
    base = f"https://127.0.0.1:{port}"
    verified = ssl.create_default_context(cafile=cert)
    request = urllib.request.Request(base + "/api/experiments", headers={"Authorization": "Bearer " + TOKEN})
    experiments = json.load(urllib.request.urlopen(request, context=verified))["experiments"]
    try:
        urllib.request.urlopen(base + "/api/experiments", context=verified)
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
    check(status == 401, f"over HTTPS, verified against its certificate, the API needs the token ({status})")
    driver.get(f"{base}/#/")
    wait.until(lambda d: d.find_element(By.ID, "token-form").is_displayed())
    driver.find_element(By.ID, "token-input").send_keys(TOKEN)
    driver.find_element(By.CSS_SELECTOR, "#token-form button").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#experiments-table tbody a"))
    check(driver.execute_script("return location.protocol") == "https:", "Chromium loaded the page over HTTPS")
    experiment_id = next(e["experiment_id"] for e in experiments if e["name"] == "lenet5_fmnist")
    driver.get(f"{base}/#/experiments/{experiment_id}")
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == f"/experiments/{experiment_id}")
    rows = driver.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")
    check(len(rows) == 4, f"over HTTPS with the token, the runs table shows the 4 runs ({len(rows)})")
    driver.save_screenshot(os.path.join(out, "dashboard_https.png"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixture", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    chromium = shutil.which("chromium")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        skip("chromium or chromium-driver is not installed (scripts/setup.sh installs them)")
    if not shutil.which("openssl"):
        skip("the openssl command is not installed (scripts/setup.sh installs it)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait
        from selenium.common.exceptions import StaleElementReferenceException
    except ImportError:
        skip("python3-selenium is not installed (run with /usr/bin/python3)")

    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="agnx_dashboard_")
    processes = []
    driver = None
    try:
        started = time.time()
        server, port = start_fixture(args.fixture, os.path.join(work, "data"), [])
        processes.append(server)
        print(f"fixture serving on port {port} after {time.time() - started:.1f} s")
        base = f"http://127.0.0.1:{port}"
        experiments = json.load(urllib.request.urlopen(base + "/api/experiments"))["experiments"]
        by_name = {e["name"]: e["experiment_id"] for e in experiments}
        experiment_id, burst_id, sweep_id = (by_name["lenet5_fmnist"], by_name["lenet5_fmnist_burst"],
                                             by_name["lenet5_fmnist_sweep"])
        points = json.load(urllib.request.urlopen(f"{base}/api/experiments/{experiment_id}/energy"))["points"]
        check(len(points) == 4, f"the API has 4 energy points ({len(points)})")

        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in CHROMIUM_FLAGS + ["--user-data-dir=" + os.path.join(work, "chromium-profile")]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        driver.set_page_load_timeout(20)
        wait = WebDriverWait(driver, 15)

        def load(hash_route):
            driver.get(f"{base}/#{hash_route}")
            wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == hash_route)

        # Experiments.
        load("/")
        names = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#experiments-table tbody a")]
        check(sorted(names) == sorted(by_name), f"the experiments page lists every experiment ({names})")

        # The experiment: runs table and plots.
        load(f"/experiments/{experiment_id}")
        rows = driver.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")
        run_names = sorted(r.find_element(By.TAG_NAME, "a").text for r in rows)
        check(run_names == ["lambda=0.1", "lambda=0.25", "lambda=0.5", "lambda=1"],
              f"the runs table shows the 4 runs ({run_names})")
        canvas = driver.find_element(By.ID, "energy-accuracy-plot")
        check(canvas.get_attribute("data-point-count") == "4", "the energy plot's canvas says 4 points")
        hidden_rows = driver.find_elements(By.CSS_SELECTOR, "table.plot-data[data-for=energy-accuracy-plot] tbody tr")
        check(len(hidden_rows) == 4, f"the energy plot's data table has 4 rows ({len(hidden_rows)})")
        wait.until(lambda d: d.execute_script("return typeof Chart !== 'undefined' && !!Chart.getChart('energy-accuracy-plot')"))
        drawn = driver.execute_script("return Chart.getChart('energy-accuracy-plot').data.datasets.map(d => d.data.length)")
        front = int(canvas.get_attribute("data-pareto-count"))
        check(drawn == [4 - front, front] and front >= 1,
              f"Chart.js (served locally) drew the 4 runs off and on the Pareto front ({drawn}, front {front})")
        check(driver.find_element(By.ID, "energy-lambda-plot").get_attribute("data-point-count") == "4",
              "the lambda plot has 4 points")
        check_metric_precision(driver)
        full_page_screenshot(driver, os.path.join(args.out, "dashboard_experiment.png"))

        # Sorting by a column, then the filter (the store's syntax), then a bad filter.
        header = driver.find_element(By.CSS_SELECTOR, "#runs-table th[data-order='metrics.approximate_top1']")
        header.click()
        wait.until(lambda d: "order=" in d.current_url and d.find_element(By.TAG_NAME, "body").get_attribute("data-ready").endswith("ASC"))
        values = driver.execute_script(
            "const i=[...document.querySelectorAll('#runs-table th')].findIndex(th=>th.dataset.order==='metrics.approximate_top1');"
            "return [...document.querySelectorAll('#runs-table tbody tr')].map(tr=>parseFloat(tr.children[i].textContent));")
        check(values == sorted(values), f"sorting by approximate_top1 ascending ({values})")
        load(f"/experiments/{experiment_id}?filter=params.lambda+%3D+%270.5%27")
        rows = driver.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")
        check(len(rows) == 1, f"the filter params.lambda = '0.5' keeps one run ({len(rows)})")
        load(f"/experiments/{experiment_id}?filter=params.lambda+%3D%3D+1")
        error = driver.find_element(By.CSS_SELECTOR, ".error-box").text
        check("400" in error and "position" in error, f"a bad filter shows the store's message ({error})")

        # A run: per-layer bars and candidates.
        run_id = points[2]["run_id"]  # lambda 0.5
        load(f"/runs/{run_id}")
        layers = driver.find_elements(By.CSS_SELECTOR, "#layers-table tbody tr")
        check(len(layers) == 5, f"the run page lists LeNet5's 5 layers ({len(layers)})")
        for plot in ("layer-energy-plot", "layer-std-plot"):
            count = driver.find_element(By.ID, plot).get_attribute("data-point-count")
            check(count == "5", f"{plot} has one bar per layer ({count})")
        candidates = driver.find_elements(By.CSS_SELECTOR, "table.candidates-table")
        check(len(candidates) == 5, "one candidates table per layer")
        driver.execute_script("document.getElementById('cand-1').open = true")
        full_page_screenshot(driver, os.path.join(args.out, "dashboard_run.png"))

        # Three runs created within a second: labels, params as given, the front on the scatter.
        labels = check_burst_run_labels(driver, load, base, burst_id)
        check_params_as_given(driver, load, burst_id)
        check_scatter_front(driver, load, base, burst_id, labels, args.out)

        # A sweep (its children's training figures are fixture data) and one of its children.
        parent, children = check_sweep_page(driver, load, base, sweep_id, args.out)
        check_child_epochs(driver, load, base, parent, next(iter(children.values())), args.out)

        # Jobs, with live progress.
        load("/jobs")
        states = [r.get_attribute("data-state") for r in driver.find_elements(By.CSS_SELECTOR, "#jobs-table tbody tr")]
        check(sorted(states) == ["RUNNING", "SUCCEEDED"], f"the jobs page shows both jobs ({states})")
        def running_progress(d):
            return d.find_element(By.CSS_SELECTOR, "#jobs-table tr[data-state=RUNNING] td:nth-child(4)").text
        # The table is redrawn at every poll: an element found just before a redraw goes stale.
        polling = WebDriverWait(driver, 8, ignored_exceptions=[StaleElementReferenceException])
        before = polling.until(running_progress)
        after = polling.until(lambda d: (p := running_progress(d)) != before and p)
        check(True, f"the jobs page polls: the running job's progress moved from {before} to {after}")
        driver.save_screenshot(os.path.join(args.out, "dashboard_jobs.png"))

        # A server with a token: the page asks for it, keeps it in sessionStorage and sends it.
        secured, secured_port = start_fixture(args.fixture, os.path.join(work, "data"), ["--token", TOKEN])
        processes.append(secured)
        driver.get(f"http://127.0.0.1:{secured_port}/#/")
        wait.until(lambda d: d.find_element(By.ID, "token-form").is_displayed())
        driver.find_element(By.ID, "token-input").send_keys(TOKEN)
        driver.find_element(By.CSS_SELECTOR, "#token-form button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#experiments-table tbody a"))
        stored = driver.execute_script("return sessionStorage.getItem('agnx-token')")
        check(stored == TOKEN, "the token prompt stores the token in sessionStorage and the API accepts it")

        check_https(driver, wait, args.fixture, work, processes, args.out)
        print(f"browser test passed in {time.time() - started:.1f} s; screenshots in {args.out}")
        return 0
    finally:
        if driver is not None:
            driver.quit()
        for process in processes:
            stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
