// Screenshots a page once a condition holds, for the walkthrough in
// docs/STUDY.md: node e2e/shoot.mjs URL OUT.png [JS condition] [selector]
import { chromium } from "playwright-core";

const [url, out, condition = "true", selector] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(url);
  await page.waitForFunction(condition, null, { timeout: 120000, polling: 250 });
  const target = selector ? page.locator(selector) : page;
  await target.screenshot({ path: out, ...(selector ? {} : { fullPage: true }) });
} finally {
  await browser.close();
}
