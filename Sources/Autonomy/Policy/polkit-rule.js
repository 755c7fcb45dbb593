// ai-sysadmin: what the daemon's user may ask systemd's manager to do. Generated from the unit policy the
// executor enforces (Sources/Autonomy/Policy/unit-policy.json) by `ai-sysadmin polkit-rule` or the NixOS
// module; regenerate it rather than editing it.
// - The supervisor may restart the model units (the external backend restarts one that stays unhealthy).
// - Unless the autonomy level is observe, the executor may start, stop, restart, reload and reset services,
//   but never a protected one, and never a unit of another type (targets, sockets, slices, scopes, mounts...).
// - Everything else the daemon's user asks for is refused.
polkit.addRule(function (action, subject) {
    var policy = @POLICY@;
    if (action.id != "org.freedesktop.systemd1.manage-units" || subject.user != policy.user) {
        return polkit.Result.NOT_HANDLED;
    }
    var unit = action.lookup("unit");
    var verb = action.lookup("verb");
    if (typeof unit != "string" || typeof verb != "string") {
        return polkit.Result.NO;
    }
    if (verb == "restart" && policy.modelUnits.indexOf(unit) >= 0) {
        return polkit.Result.YES;
    }
    if (!policy.executor || policy.verbs.indexOf(verb) < 0) {
        return polkit.Result.NO;
    }
    var dot = unit.lastIndexOf(".");
    if (dot < 1 || policy.actionableUnitTypes.indexOf(unit.substring(dot + 1)) < 0) {
        return polkit.Result.NO;
    }
    // A pattern's "*" stands for any run of characters, as in UnitPattern.matches.
    var matches = function (pattern, name) {
        var parts = pattern.split("*");
        if (parts.length == 1) {
            return pattern == name;
        }
        var first = parts[0], last = parts[parts.length - 1];
        if (name.length < first.length + last.length || name.indexOf(first) != 0
                || name.substring(name.length - last.length) != last) {
            return false;
        }
        var at = first.length, end = name.length - last.length;
        for (var i = 1; i < parts.length - 1; i++) {
            var found = name.indexOf(parts[i], at);
            if (found < 0 || found + parts[i].length > end) {
                return false;
            }
            at = found + parts[i].length;
        }
        return true;
    };
    for (var i = 0; i < policy.protectedUnits.length; i++) {
        if (matches(policy.protectedUnits[i], unit)) {
            return polkit.Result.NO;
        }
    }
    return polkit.Result.YES;
});
