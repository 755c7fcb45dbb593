#ifndef AI_SYSADMIN_CSYSTEMD_SHIM_H
#define AI_SYSADMIN_CSYSTEMD_SHIM_H
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

/// Calls a Manager method taking (unit, mode) and returning a job path: StartUnit, StopUnit, RestartUnit,
/// ReloadUnit.
static inline int ai_sd_bus_unit_job(sd_bus *bus, const char *method, const char *unit, const char *mode,
                                     sd_bus_error *error, char **job_path_out) {
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", method, error, &reply, "ss", unit, mode);
    if (r < 0) return r;
    const char *path = NULL;
    r = sd_bus_message_read(reply, "o", &path);
    if (r >= 0 && job_path_out != NULL && path != NULL) {
        *job_path_out = strdup(path);
    }
    sd_bus_message_unref(reply);
    return r;
}

/// Manager.ResetFailedUnit(unit).
static inline int ai_sd_bus_reset_failed(sd_bus *bus, const char *unit, sd_bus_error *error) {
    return sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                              "org.freedesktop.systemd1.Manager", "ResetFailedUnit", error, NULL, "s", unit);
}

/// Manager.LoadUnit(unit): the unit's object path (loading its definition when needed).
static inline int ai_sd_bus_load_unit(sd_bus *bus, const char *unit, sd_bus_error *error, char **path_out) {
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "LoadUnit", error, &reply, "s", unit);
    if (r < 0) return r;
    const char *path = NULL;
    r = sd_bus_message_read(reply, "o", &path);
    if (r >= 0 && path != NULL) {
        *path_out = strdup(path);
    }
    sd_bus_message_unref(reply);
    return r;
}

/// Manager.ListUnitsFiltered(["failed"]): the failed units' names, each followed by '\n', in a malloc'd string.
static inline int ai_sd_bus_failed_units(sd_bus *bus, sd_bus_error *error, char **names_out) {
    sd_bus_message *reply = NULL;
    int r = sd_bus_call_method(bus, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "ListUnitsFiltered", error, &reply, "as", 1, "failed");
    if (r < 0) return r;
    size_t capacity = 256, length = 0;
    char *names = malloc(capacity);
    if (names == NULL) { sd_bus_message_unref(reply); return -ENOMEM; }
    names[0] = 0;
    r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
    while (r >= 0) {
        const char *name, *description, *load, *active, *sub, *following, *unit_path, *job_type, *job_path;
        uint32_t job_id;
        r = sd_bus_message_read(reply, "(ssssssouso)", &name, &description, &load, &active, &sub, &following,
                                &unit_path, &job_id, &job_type, &job_path);
        if (r <= 0) break;
        size_t need = strlen(name) + 2;
        if (length + need > capacity) {
            while (length + need > capacity) capacity *= 2;
            char *grown = realloc(names, capacity);
            if (grown == NULL) { r = -ENOMEM; break; }
            names = grown;
        }
        memcpy(names + length, name, need - 2);
        length += need - 2;
        names[length++] = '\n';
        names[length] = 0;
    }
    sd_bus_message_unref(reply);
    if (r < 0) { free(names); return r; }
    *names_out = names;
    return 0;
}

static inline sd_bus_error ai_sd_bus_error_null(void) {
    sd_bus_error e = SD_BUS_ERROR_NULL;
    return e;
}
#endif
