// Drives Debian's headless Chromium over the Aspire dashboard (a Blazor Server app: a plain `chromium --screenshot`
// captures a blank page) and writes the docs' pictures. Run by scripts/docs/screenshots.sh, which starts the stack and
// makes the traffic first.
// Usage: node screenshots.mjs <dashboard login url> <trace id of one job> <output folder>
import { mkdir } from "node:fs/promises";
import path from "node:path";
import puppeteer from "puppeteer-core";

const [login, traceId, out] = process.argv.slice(2);
if (!login || !traceId || !out) {
  console.error("usage: node screenshots.mjs <login url> <trace id> <output folder>");
  process.exit(2);
}
const origin = new URL(login).origin;
await mkdir(out, { recursive: true });

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  // Root in a container-less build machine: Chromium's sandbox needs a user namespace it may not get.
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--force-color-profile=srgb"],
  defaultViewport: { width: 1600, height: 900, deviceScaleFactor: 1 },
});

/**
 * Opens a dashboard page, waits until every text in `expected` is on it (Blazor renders after load) and, if given,
 * an element matching `selector` (a chart), then shoots.
 */
async function shoot(page, url, expected, file, settle = 1500, selector = null) {
  await page.goto(new URL(url, origin).toString(), { waitUntil: "domcontentloaded" });
  try {
    await page.waitForFunction(
      (texts, selector) => texts.every((text) => document.body.innerText.includes(text))
        && (!selector || document.querySelector(selector) !== null),
      { timeout: 60_000, polling: 250 },
      expected, selector,
    );
  } catch (error) {
    // Shot anyway, so the page can be looked at; the run fails at the end.
    const text = await page.evaluate(() => document.body.innerText);
    const missing = expected.filter((t) => !text.includes(t));
    if (selector && !(await page.$(selector))) missing.push(selector);
    console.error(`screenshots: ${file}: ${missing.join(", ")} not on ${url}`);
    process.exitCode = 1;
  }
  await new Promise((resolve) => setTimeout(resolve, settle));
  await page.screenshot({ path: path.join(out, file) });
  console.log(`screenshots: ${file}`);
}

try {
  const page = await browser.newPage();
  await page.goto(login, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => !location.pathname.startsWith("/login"), { timeout: 60_000 });

  await shoot(page, "/", ["gateway", "python-inference", "messaging", "Running"], "dashboard-resources.png");
  // The dashboard shows a messaging span as "MSG <system> <destination>" (the span itself is "publish jobs", "process jobs").
  await shoot(page, `/traces/detail/${traceId}`, ["gateway", "worker", "python-inference", "MSG rabbitmq jobs", "PredictStream"],
    "dashboard-job-trace.png");
  await shoot(page, `/structuredlogs/resource/python-inference?traceId=${traceId}`, ["python-inference", "problem"],
    "dashboard-python-logs-of-trace.png");
  // The dashboard's deep link to one instrument's chart (its Metrics page takes the resource in the path and the meter,
  // instrument and view as query parameters); Plotly draws the chart into a .js-plotly-plot element.
  await shoot(page, "/metrics/resource/worker?meter=MlGateway&instrument=jobs.duration&view=Graph",
    ["jobs.duration", "From submission to the recorded outcome"], "dashboard-metric-job-duration.png", 4000,
    ".js-plotly-plot .main-svg");
} finally {
  await browser.close();
}
