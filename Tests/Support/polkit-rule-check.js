// Runs a polkit rules file the way polkitd does — `polkit.addRule(function (action, subject) {...})` — against
// requests, with a stand-in `polkit` object, and prints each request's result as one JSON array.
//
// usage: node polkit-rule-check.js RULES_FILE REQUESTS_JSON
//   REQUESTS_JSON: [{"id": "org.freedesktop.systemd1.manage-units", "user": "ai-sysadmin", "unit": "x.service", "verb": "start"}, ...]
//   output: ["YES", "NO", "NOT_HANDLED", ...] — the first rule's answer, as polkit would take it
"use strict";
const fs = require("fs");
const [rulesFile, requestsJSON] = process.argv.slice(2);
const rules = [];
const polkit = {
    Result: { YES: "YES", NO: "NO", NOT_HANDLED: "NOT_HANDLED", AUTH_ADMIN: "AUTH_ADMIN" },
    addRule: (rule) => rules.push(rule),
    log: () => {},
};
new Function("polkit", fs.readFileSync(rulesFile, "utf8"))(polkit);
if (rules.length === 0) {
    throw new Error(rulesFile + " adds no rule");
}
const answers = JSON.parse(requestsJSON).map((request) => {
    const details = { unit: request.unit, verb: request.verb };
    const action = { id: request.id, lookup: (key) => details[key] };
    const subject = { user: request.user };
    for (const rule of rules) {
        const result = rule(action, subject);
        if (result !== undefined && result !== polkit.Result.NOT_HANDLED) {
            return result;
        }
    }
    return "NOT_HANDLED";
});
process.stdout.write(JSON.stringify(answers) + "\n");
