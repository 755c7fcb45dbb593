"""Drives the operator's console in headless Chromium (Debian's chromium and chromium-driver, through Selenium) and
prints one JSON object of what it saw.

    console-browser-check.py BASE_URL CLIENT_KEY OPERATOR_KEY LOG_FILE PROPOSAL_ID SCREENSHOT

1. Without a key the page asks for one; a wrong key is refused; a client key shows the console but cannot decide.
2. With the operator key: the page is live (server-sent events); markup planted in log lines and in what the model
   wrote (the review, an analysis, a proposal's reason) is shown as text and never runs; the key's cookie is
   invisible to scripts.
3. A line appended to LOG_FILE shows up without a reload.
4. A state-changing request without the console's header is refused (403), with its cookie.
5. Proposal PROPOSAL_ID is approved from the page with a reason; the page says so and the proposal leaves the list.
6. A screenshot of the page, with the proposal about to be approved, is written to SCREENSHOT.
"""
import json
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

base, client_key, operator_key, log_file, proposal_id, screenshot = sys.argv[1:7]
seen = {}


def wait(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception:  # the element may not exist yet
            pass
        time.sleep(0.2)
    shown = driver.execute_script("return document.body.innerText")
    raise TimeoutError(f"timed out waiting for {what}; the page shows: {shown[:1500]}")


def visible(element_id):
    return driver.find_element(By.ID, element_id).is_displayed()


def login(key):
    wait(lambda: visible("login"), "the login form")
    driver.find_element(By.ID, "login-key").send_keys(key)
    driver.find_element(By.ID, "login-submit").click()


options = webdriver.ChromeOptions()
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,2200"]:
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    driver.get(base + "/")
    seen["login_shown_first"] = wait(lambda: visible("login"), "the login form")
    login("not-a-key")
    seen["wrong_key_error"] = wait(lambda: driver.find_element(By.ID, "login-error").text, "the refusal")
    login(client_key)
    wait(lambda: visible("console"), "the console for a client key")
    seen["client_decide_note"] = visible("decide-note")
    buttons = driver.find_elements(By.CSS_SELECTOR, "button.approve")
    seen["client_approve_disabled"] = bool(buttons) and all(not button.is_enabled() for button in buttons)
    driver.find_element(By.ID, "logout").click()
    login(operator_key)
    wait(lambda: visible("console"), "the console for the operator key")
    seen["live"] = wait(lambda: driver.find_element(By.ID, "connection").text == "live", "the live stream")
    seen["operator_decide_note"] = visible("decide-note")
    seen["cookie_visible_to_scripts"] = operator_key in driver.execute_script("return document.cookie")
    # Scoped to /console, the cookie is not the page's (at /): ask the browser for all of them.
    cookie = next(c for c in driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"] if c["name"] == "ai_sysadmin_key")
    seen["cookie"] = {"httpOnly": cookie["httpOnly"], "sameSite": cookie.get("sameSite"), "path": cookie["path"]}

    # Planted markup: the events table and the review show it as text, and nothing ran.
    events_text = wait(lambda: driver.find_element(By.ID, "events").text, "the events")
    seen["planted_line_shown_as_text"] = "<img src=x onerror=" in events_text
    seen["review_markup_shown_as_text"] = "<script>" in wait(lambda: driver.find_element(By.ID, "review").text, "the review")
    seen["analysis_markup_shown_as_text"] = "<script>" in wait(lambda: driver.find_element(By.ID, "analyses").text, "the analysis")
    seen["rationale_markup_shown_as_text"] = "<img src=x" in wait(lambda: driver.find_element(By.ID, "approvals").text, "the proposal")
    seen["xss_ran"] = driver.execute_script("return window.__xss === undefined ? null : String(window.__xss)")
    seen["img_elements_in_data"] = len(driver.find_elements(By.CSS_SELECTOR, "#events img, #review img, #approvals img, #analyses img, #audit img"))
    seen["script_elements"] = len(driver.find_elements(By.TAG_NAME, "script"))

    # A new line arrives without a reload.
    driver.execute_script("window.__sameDocument = true")
    marker = f"live-marker-{int(time.time() * 1000)}"
    with open(log_file, "a") as log:
        log.write(f"app[42]: ERROR {marker} the database connection was lost\n")
    seen["live_event"] = bool(wait(lambda: marker in driver.find_element(By.ID, "events").text, "the new event", timeout=90))
    seen["same_document"] = driver.execute_script("return window.__sameDocument === true")

    # Without the console's header a decision is refused, cookie or not.
    request = urllib.request.Request(f"{base}/console/api/proposals/{proposal_id}/reject", method="POST",
                                     data=b'{"reason":"forged"}',
                                     headers={"Cookie": f"ai_sysadmin_key={cookie['value']}", "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(request)
        seen["forged_status"] = 200
    except urllib.error.HTTPError as error:
        seen["forged_status"] = error.code

    # Approve from the page.
    card = wait(lambda: driver.find_element(By.CSS_SELECTOR, f'[data-proposal-id="{proposal_id}"]'), "the proposal card")
    card.find_element(By.CSS_SELECTOR, "input.reason").send_keys("approved in the browser test")
    seen["screenshot"] = driver.save_screenshot(screenshot)
    card.find_element(By.CSS_SELECTOR, "button.approve").click()
    seen["outcome"] = wait(lambda: card.find_element(By.CSS_SELECTOR, ".outcome").text not in ("", "…")
                           and card.find_element(By.CSS_SELECTOR, ".outcome").text, "the decision's outcome")
    seen["card_gone"] = bool(wait(lambda: not driver.find_elements(By.CSS_SELECTOR, f'[data-proposal-id="{proposal_id}"]'),
                                  "the approved proposal to leave the list"))
    seen["audit_text"] = wait(lambda: f"#{proposal_id}" in driver.find_element(By.ID, "audit").text
                              and driver.find_element(By.ID, "audit").text, "the audit trail")
    # Script errors and refused content (a Content-Security-Policy violation); refused requests (the 401s before the
    # login) are the test's own doing.
    seen["console_errors"] = [entry["message"] for entry in driver.get_log("browser")
                              if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]]
finally:
    driver.quit()
print(json.dumps(seen))
