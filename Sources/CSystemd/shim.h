#ifndef AI_SYSADMIN_CSYSTEMD_SHIM_H
#define AI_SYSADMIN_CSYSTEMD_SHIM_H
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-bus.h>

/// Calls org.freedesktop.systemd1.Manager.RestartUnit(name, "replace") on the given bus.
/// sd_bus_call_method is variadic, so Swift cannot call it directly.
static inline int ai_sd_bus_restart_unit(sd_bus *bus, const char *unit, sd_bus_error *error, char **job_path_out) {
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "RestartUnit", error, &reply,
                               "ss", unit, "replace");
    if (r < 0) return r;
    const char *path = NULL;
    r = sd_bus_message_read(reply, "o", &path);
    if (r >= 0 && job_path_out != NULL && path != NULL) {
        *job_path_out = strdup(path);
    }
    sd_bus_message_unref(reply);
    return r;
}

static inline sd_bus_error ai_sd_bus_error_null(void) {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    return e;
}
#endif
