#!/usr/bin/env python3
"""Open WebUI with its default settings, in headless Chromium, chatting with the `ai-sysadmin` agent model.

usage: openwebui_e2e.py OPEN_WEBUI_URL SCREENSHOT_DIR [QUESTION]
Dismisses the release notes, sends QUESTION to the default model, and waits for the reply: the "Thinking" fold
with the agent's look-ups, then the answer, then the end of the stream. Screenshots go to SCREENSHOT_DIR
(typed.png, replying.png, answered.png, thinking.png). Prints one JSON object: seconds to the first answer text,
seconds until the reply ended, the model the page shows, the answer's first 300 characters, the look-ups the
fold showed, and the chat's title.
"""
import json
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

url, shots = sys.argv[1], sys.argv[2]
question = sys.argv[3] if len(sys.argv) > 3 else "Is cron.service healthy?"

options = Options()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]:
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for(condition, timeout, step=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except WebDriverException:
            pass
        time.sleep(step)
    return None


def text_of(element_id):
    elements = driver.find_elements(By.ID, element_id)
    return elements[0].text if elements else ""


result = {}
try:
    driver.get(url)
    box = wait_for(lambda: driver.find_element(By.ID, "chat-input"), 60)
    if not box:
        raise SystemExit("Open WebUI's chat input never appeared")
    for button in driver.find_elements(By.XPATH, "//button[contains(., \"Okay, Let\")]"):
        button.click()
    result["model"] = text_of("model-selector-model-button") or None
    box = driver.find_element(By.ID, "chat-input")
    box.click()
    box.send_keys(question)
    driver.save_screenshot(f"{shots}/typed.png")
    sent = time.monotonic()
    box.send_keys(Keys.ENTER)

    # The answer's text (below the fold of look-ups) appears, then the stream ends: the reply's action bar shows.
    first = wait_for(lambda: len(text_of("response-content-container").strip()) > 20, 600)
    result["first_answer_seconds"] = round(time.monotonic() - sent, 1) if first else None
    driver.save_screenshot(f"{shots}/replying.png")
    done = wait_for(lambda: driver.find_elements(By.XPATH, "//button[contains(@aria-label, 'Regenerate') or contains(@aria-label, 'Continue')]")
                    or driver.find_elements(By.CSS_SELECTOR, "[id^='speak-button-']"), 600)
    result["reply_ended_seconds"] = round(time.monotonic() - sent, 1) if done else None
    result["answer"] = text_of("response-content-container")[:300]
    driver.save_screenshot(f"{shots}/answered.png")

    # The look-ups: Open WebUI folds reasoning_content as "Thought for N seconds"; open it.
    folds = driver.find_elements(By.XPATH, "//*[starts-with(normalize-space(text()), 'Thought for')]")
    if folds:
        driver.execute_script("arguments[0].click();", folds[-1])
        wait_for(lambda: "→" in text_of("response-content-container"), 10)
    result["lookups"] = [line for line in text_of("response-content-container").splitlines() if "→" in line][:6]
    driver.execute_script("document.getElementById('messages-container').scrollTop = 0;")
    driver.save_screenshot(f"{shots}/thinking.png")
    # The title Open WebUI's background task gives the chat (the page's title), once it came.
    titled = wait_for(lambda: driver.title not in ("", "Open WebUI") and not driver.title.startswith("New Chat"), 300)
    result["title"] = driver.title if titled else None
    result["title_seconds"] = round(time.monotonic() - sent, 1) if titled else None
finally:
    driver.quit()
print(json.dumps(result))
