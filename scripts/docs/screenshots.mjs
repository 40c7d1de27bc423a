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
 * Opens a dashboard page (then clicks the element whose text is `click`, if given), waits until every text in
 * `expected` is on it (Blazor renders after load), then shoots.
 */
async function shoot(page, url, expected, file, settle = 1500, click = null) {
  await page.goto(new URL(url, origin).toString(), { waitUntil: "domcontentloaded" });
  if (click) {
    await page.waitForFunction((text) => [...document.querySelectorAll("*")].some((e) => e.textContent.trim() === text),
      { timeout: 60_000, polling: 250 }, click);
    await page.evaluate((text) => {
      const leaves = [...document.querySelectorAll("*")].filter((e) => e.children.length === 0 && e.textContent.trim() === text);
      leaves[0].click();
    }, click);
  }
  try {
    await page.waitForFunction(
      (texts) => texts.every((text) => document.body.innerText.includes(text)),
      { timeout: 60_000, polling: 250 },
      expected,
    );
  } catch (error) {
    // Shot anyway, so the page can be looked at; the run fails at the end.
    const text = await page.evaluate(() => document.body.innerText);
    console.error(`screenshots: ${file}: ${expected.filter((t) => !text.includes(t)).join(", ")} not on ${url}`);
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
  await shoot(page, "/metrics/resource/worker", ["From submission to the recorded outcome"], "dashboard-metric-job-duration.png",
    4000, "jobs.duration");
} finally {
  await browser.close();
}
