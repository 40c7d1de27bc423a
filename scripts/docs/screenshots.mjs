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

/** Opens a dashboard page, waits until every text in `expected` is on it (Blazor renders after load), then shoots. */
async function shoot(page, url, expected, file, settle = 1500) {
  await page.goto(new URL(url, origin).toString(), { waitUntil: "domcontentloaded" });
  await page.waitForFunction(
    (texts) => texts.every((text) => document.body.innerText.includes(text)),
    { timeout: 60_000, polling: 250 },
    expected,
  );
  await new Promise((resolve) => setTimeout(resolve, settle));
  await page.screenshot({ path: path.join(out, file) });
  console.log(`screenshots: ${file}`);
}

try {
  const page = await browser.newPage();
  await page.goto(login, { waitUntil: "domcontentloaded" });
  await page.waitForFunction(() => !location.pathname.startsWith("/login"), { timeout: 60_000 });

  await shoot(page, "/", ["gateway", "python-inference", "messaging", "Running"], "dashboard-resources.png");
  await shoot(page, `/traces/detail/${traceId}`, ["gateway", "worker", "python-inference", "process jobs"], "dashboard-job-trace.png");
  await shoot(page, `/structuredlogs/resource/python-inference?traceId=${traceId}`, ["python-inference", "problem"],
    "dashboard-python-logs-of-trace.png");
  await shoot(page, "/metrics/resource/worker/meter/MlGateway/instrument/jobs.duration",
    ["jobs.duration"], "dashboard-metric-job-duration.png", 4000);
} finally {
  await browser.close();
}
