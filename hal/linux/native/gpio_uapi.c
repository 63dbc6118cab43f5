// Tumbler's GPIO and evdev addon: the kernel's GPIO v2 character-device uAPI
// (linux/gpio.h, Linux >= 5.10) and EVIOCGRAB, straight through ioctl(2), with no
// libgpiod, so one build serves Debian 12 (libgpiod 1.6) and Debian 13 (libgpiod 2.x)
// alike. Node-API only (ABI-stable across Node versions). Every call is synchronous
// and returns when the kernel has answered: a value write has been driven when
// setValues returns. Edge events are read from the line request's fd, which is made
// non-blocking; watch() wakes JavaScript through a libuv poll handle when it is
// readable. Errors throw an Error with `code` (e.g. "EBUSY") and `errno`.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <linux/input.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define CHECK(call)                                                                     \
  do {                                                                                  \
    if ((call) != napi_ok) {                                                            \
      napi_throw_error(env, "EINTERNAL", "tumbler_gpio: " #call " failed");             \
      return NULL;                                                                      \
    }                                                                                   \
  } while (0)

static const char *errno_code(int err) {
  switch (err) {
    case EBUSY: return "EBUSY";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case ENOTTY: return "ENOTTY";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "EUNKNOWN";
  }
}

/** Throws `<what>: <strerror>` with code and errno; returns NULL for the caller to return. */
static napi_value throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_value code, text, error, number;
  if (napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &error) != napi_ok ||
      napi_create_int32(env, err, &number) != napi_ok ||
      napi_set_named_property(env, error, "errno", number) != napi_ok) {
    napi_throw_error(env, errno_code(err), message);
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  return argc >= want;
}

/** An integer 0..2^32-1 exactly: -1 or 1.5 are refused, not wrapped or truncated. */
static int get_uint32(napi_env env, napi_value value, uint32_t *out) {
  napi_valuetype type;
  double number;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) return 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) return 0;
  if (!(number >= 0 && number <= 4294967295.0) || number != (double)(uint32_t)number) return 0;
  *out = (uint32_t)number;
  return 1;
}

/** A file descriptor: an integer 0..2^31-1. */
static int get_int32(napi_env env, napi_value value, int32_t *out) {
  uint32_t number;
  if (!get_uint32(env, value, &number) || number > 2147483647u) return 0;
  *out = (int32_t)number;
  return 1;
}

static int get_string(napi_env env, napi_value value, char *buffer, size_t size) {
  napi_valuetype type;
  size_t length;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) return 0;
  if (napi_get_value_string_utf8(env, value, buffer, size, &length) != napi_ok) return 0;
  return length < size - 1;
}

static int get_property(napi_env env, napi_value object, const char *name, napi_value *out) {
  bool has;
  if (napi_has_named_property(env, object, name, &has) != napi_ok || !has) return 0;
  return napi_get_named_property(env, object, name, out) == napi_ok;
}

static napi_value make_bigint_ns(napi_env env, uint64_t ns) {
  napi_value value;
  if (napi_create_bigint_uint64(env, ns, &value) != napi_ok) return NULL;
  return value;
}

static uint64_t monotonic_ns(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
}

/** chipInfo(path) -> { name, label, lines } */
static napi_value chip_info(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[256];
  if (!get_args(env, info, 1, argv) || !get_string(env, argv[0], path, sizeof path))
    return throw_type(env, "path must be a string shorter than 256 bytes");
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, path, errno);
  struct gpiochip_info chip;
  memset(&chip, 0, sizeof chip);
  int failed = ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, &chip);
  int err = errno;
  close(fd);
  if (failed) return throw_errno(env, "GPIO_GET_CHIPINFO_IOCTL", err);
  napi_value result, name, label, lines;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_string_utf8(env, chip.name, strnlen(chip.name, sizeof chip.name), &name));
  CHECK(napi_create_string_utf8(env, chip.label, strnlen(chip.label, sizeof chip.label), &label));
  CHECK(napi_create_uint32(env, chip.lines, &lines));
  CHECK(napi_set_named_property(env, result, "name", name));
  CHECK(napi_set_named_property(env, result, "label", label));
  CHECK(napi_set_named_property(env, result, "lines", lines));
  return result;
}

enum { BIAS_AS_IS = 0, BIAS_DISABLED = 1, BIAS_PULL_UP = 2, BIAS_PULL_DOWN = 3 };

/**
 * requestLines(chipPath, consumer, offsets[], { output, values, bias, edges, debounceUs,
 * bufferSize }) -> fd. `values` is a bitmap by index into offsets: the levels outputs
 * take the moment they are requested. Inputs get edge detection per `edges` ("none",
 * "both", "rising", "falling"), with CLOCK_MONOTONIC timestamps. The fd is
 * non-blocking and close-on-exec.
 */
static napi_value request_lines(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[256];
  struct gpio_v2_line_request request;
  memset(&request, 0, sizeof request);
  if (!get_args(env, info, 4, argv) || !get_string(env, argv[0], path, sizeof path))
    return throw_type(env, "chipPath must be a string shorter than 256 bytes");
  if (!get_string(env, argv[1], request.consumer, sizeof request.consumer))
    return throw_type(env, "consumer must be a string shorter than 32 bytes");
  bool is_array;
  uint32_t count;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[2], &count) != napi_ok || count == 0 || count > 32)
    return throw_type(env, "offsets must be an array of 1..32 line offsets");
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    CHECK(napi_get_element(env, argv[2], i, &element));
    if (!get_uint32(env, element, &request.offsets[i]))
      return throw_type(env, "offsets must hold integers >= 0");
  }
  request.num_lines = count;

  napi_value field;
  bool output = false;
  char edges[16] = "none";
  uint32_t values = 0, bias = BIAS_AS_IS, debounce_us = 0, buffer_size = 0;
  if (get_property(env, argv[3], "output", &field)) napi_get_value_bool(env, field, &output);
  if (get_property(env, argv[3], "edges", &field) && !get_string(env, field, edges, sizeof edges))
    return throw_type(env, "config.edges must be \"none\", \"both\", \"rising\" or \"falling\"");
  bool rising = !strcmp(edges, "both") || !strcmp(edges, "rising");
  bool falling = !strcmp(edges, "both") || !strcmp(edges, "falling");
  if (!rising && !falling && strcmp(edges, "none"))
    return throw_type(env, "config.edges must be \"none\", \"both\", \"rising\" or \"falling\"");
  if (get_property(env, argv[3], "values", &field) && !get_uint32(env, field, &values))
    return throw_type(env, "config.values must be a bitmap");
  if (get_property(env, argv[3], "bias", &field) && (!get_uint32(env, field, &bias) || bias > 3))
    return throw_type(env, "config.bias must be 0 (as-is), 1 (disabled), 2 (pull-up) or 3 (pull-down)");
  if (get_property(env, argv[3], "debounceUs", &field) && !get_uint32(env, field, &debounce_us))
    return throw_type(env, "config.debounceUs must be an integer >= 0");
  if (get_property(env, argv[3], "bufferSize", &field) && !get_uint32(env, field, &buffer_size))
    return throw_type(env, "config.bufferSize must be an integer >= 0");
  if (output && (rising || falling)) return throw_type(env, "an output has no edge detection");

  uint64_t flags = output ? GPIO_V2_LINE_FLAG_OUTPUT : GPIO_V2_LINE_FLAG_INPUT;
  // Both edges: the kernel tells rising from falling by reading the line when its IRQ
  // thread runs, so a pulse shorter than that latency reads as the wrong edge. A
  // Wiegand bit is such a pulse: its lines ask for the falling edge alone.
  if (rising) flags |= GPIO_V2_LINE_FLAG_EDGE_RISING;
  if (falling) flags |= GPIO_V2_LINE_FLAG_EDGE_FALLING;
  if (bias == BIAS_DISABLED) flags |= GPIO_V2_LINE_FLAG_BIAS_DISABLED;
  if (bias == BIAS_PULL_UP) flags |= GPIO_V2_LINE_FLAG_BIAS_PULL_UP;
  if (bias == BIAS_PULL_DOWN) flags |= GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN;
  request.config.flags = flags;
  uint64_t all = count == 64 ? ~0ull : ((1ull << count) - 1);
  if (output) {
    struct gpio_v2_line_config_attribute *attr = &request.config.attrs[request.config.num_attrs++];
    attr->attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
    attr->attr.values = (uint64_t)values & all;
    attr->mask = all;
  }
  if (!output && debounce_us > 0) {
    struct gpio_v2_line_config_attribute *attr = &request.config.attrs[request.config.num_attrs++];
    attr->attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE;
    attr->attr.debounce_period_us = debounce_us;
    attr->mask = all;
  }
  request.event_buffer_size = buffer_size;

  int chip = open(path, O_RDWR | O_CLOEXEC);
  if (chip < 0) return throw_errno(env, path, errno);
  int failed = ioctl(chip, GPIO_V2_GET_LINE_IOCTL, &request);
  int err = errno;
  close(chip);
  if (failed) return throw_errno(env, "GPIO_V2_GET_LINE_IOCTL", err);
  int fl = fcntl(request.fd, F_GETFL);
  if (fl < 0 || fcntl(request.fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    err = errno;
    close(request.fd);
    return throw_errno(env, "fcntl O_NONBLOCK", err);
  }
  napi_value fd;
  CHECK(napi_create_int32(env, request.fd, &fd));
  return fd;
}

/** setValues(fd, mask, bits) -> monotonic ns after the kernel has driven the lines. */
static napi_value set_values(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  uint32_t mask, bits;
  if (!get_args(env, info, 3, argv) || !get_int32(env, argv[0], &fd) ||
      !get_uint32(env, argv[1], &mask) || !get_uint32(env, argv[2], &bits))
    return throw_type(env, "setValues(fd, mask, bits) takes three integers");
  struct gpio_v2_line_values values = {.bits = bits & mask, .mask = mask};
  if (ioctl(fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &values)) return throw_errno(env, "GPIO_V2_LINE_SET_VALUES_IOCTL", errno);
  return make_bigint_ns(env, monotonic_ns());
}

/** getValues(fd, mask) -> bits */
static napi_value get_values(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  uint32_t mask;
  if (!get_args(env, info, 2, argv) || !get_int32(env, argv[0], &fd) || !get_uint32(env, argv[1], &mask))
    return throw_type(env, "getValues(fd, mask) takes two integers");
  struct gpio_v2_line_values values = {.bits = 0, .mask = mask};
  if (ioctl(fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &values)) return throw_errno(env, "GPIO_V2_LINE_GET_VALUES_IOCTL", errno);
  napi_value result;
  CHECK(napi_create_uint32(env, (uint32_t)(values.bits & mask), &result));
  return result;
}

/**
 * readEvents(fd) -> [{ offset, rising, timestampNs, seqno, lineSeqno }]: every event
 * queued now, oldest first; [] when there is none (EAGAIN).
 */
static napi_value read_events(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int32(env, argv[0], &fd)) return throw_type(env, "fd must be an integer");
  napi_value result;
  CHECK(napi_create_array(env, &result));
  uint32_t index = 0;
  struct gpio_v2_line_event events[16];
  for (;;) {
    ssize_t got = read(fd, events, sizeof events);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return throw_errno(env, "read line events", errno);
    }
    if (got == 0) break;
    size_t whole = (size_t)got / sizeof events[0];
    for (size_t i = 0; i < whole; i++) {
      napi_value event, offset, rising, stamp, seqno, line_seqno;
      CHECK(napi_create_object(env, &event));
      CHECK(napi_create_uint32(env, events[i].offset, &offset));
      CHECK(napi_get_boolean(env, events[i].id == GPIO_V2_LINE_EVENT_RISING_EDGE, &rising));
      stamp = make_bigint_ns(env, events[i].timestamp_ns);
      if (!stamp) return NULL;
      CHECK(napi_create_uint32(env, events[i].seqno, &seqno));
      CHECK(napi_create_uint32(env, events[i].line_seqno, &line_seqno));
      CHECK(napi_set_named_property(env, event, "offset", offset));
      CHECK(napi_set_named_property(env, event, "rising", rising));
      CHECK(napi_set_named_property(env, event, "timestampNs", stamp));
      CHECK(napi_set_named_property(env, event, "seqno", seqno));
      CHECK(napi_set_named_property(env, event, "lineSeqno", line_seqno));
      CHECK(napi_set_element(env, result, index++, event));
    }
    if ((size_t)got < sizeof events) break;
  }
  return result;
}

/** closeFd(fd): releases a line request (or any fd this addon handed out). */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int32(env, argv[0], &fd)) return throw_type(env, "fd must be an integer");
  if (close(fd) && errno != EINTR) return throw_errno(env, "close", errno);
  return NULL;
}

/** grab(fd, on): EVIOCGRAB, so no other reader of the input device sees its events. */
static napi_value grab(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  bool on;
  if (!get_args(env, info, 2, argv) || !get_int32(env, argv[0], &fd) ||
      napi_get_value_bool(env, argv[1], &on) != napi_ok)
    return throw_type(env, "grab(fd, on) takes an integer and a boolean");
  if (ioctl(fd, EVIOCGRAB, on ? 1 : 0)) return throw_errno(env, "EVIOCGRAB", errno);
  return NULL;
}

/** monotonicNs() -> CLOCK_MONOTONIC now, the clock of edge timestamps. */
static napi_value monotonic(napi_env env, napi_callback_info info) {
  (void)info;
  return make_bigint_ns(env, monotonic_ns());
}

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  int stopped;
} Watch;

static void watch_closed(uv_handle_t *handle) { free(handle->data); }

static void watch_fired(uv_poll_t *poll, int status, int events) {
  (void)events;
  Watch *watch = poll->data;
  if (watch->stopped) return;
  napi_env env = watch->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, global, argv[1], result;
  if (napi_get_reference_value(env, watch->callback, &callback) == napi_ok && callback &&
      napi_get_global(env, &global) == napi_ok) {
    if (status < 0) napi_create_string_utf8(env, uv_err_name(status), NAPI_AUTO_LENGTH, &argv[0]);
    else napi_get_null(env, &argv[0]);
    if (napi_make_callback(env, watch->context, global, callback, 1, argv, &result) == napi_pending_exception) {
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

/** What the JavaScript handle points at: the watch until unwatch(), then nothing. */
typedef struct {
  Watch *watch;
} WatchBox;

static void watch_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data); // a watch still running stays running: only unwatch() stops it
}

/**
 * watch(fd, callback) -> handle: calls callback(null) on a later turn of the event loop
 * whenever fd is readable (callback("EBADF") and the like on a poll error), until
 * unwatch(handle). Stop watching before closing the fd.
 */
static napi_value watch_fd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  napi_valuetype type;
  if (!get_args(env, info, 2, argv) || !get_int32(env, argv[0], &fd) ||
      napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function)
    return throw_type(env, "watch(fd, callback) takes an integer and a function");
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  Watch *watch = calloc(1, sizeof *watch);
  if (!watch) return throw_errno(env, "watch", ENOMEM);
  watch->env = env;
  napi_value name;
  CHECK(napi_create_string_utf8(env, "tumbler.gpio.watch", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &watch->context));
  CHECK(napi_create_reference(env, argv[1], 1, &watch->callback));
  int status = uv_poll_init(loop, &watch->poll, fd);
  if (status < 0) {
    napi_delete_reference(env, watch->callback);
    napi_async_destroy(env, watch->context);
    free(watch);
    return throw_errno(env, "uv_poll_init", -status);
  }
  watch->poll.data = watch;
  status = uv_poll_start(&watch->poll, UV_READABLE, watch_fired);
  if (status < 0) {
    napi_delete_reference(env, watch->callback);
    napi_async_destroy(env, watch->context);
    uv_close((uv_handle_t *)&watch->poll, watch_closed);
    return throw_errno(env, "uv_poll_start", -status);
  }
  WatchBox *box = malloc(sizeof *box);
  if (!box) return throw_errno(env, "watch", ENOMEM);
  box->watch = watch;
  napi_value handle;
  CHECK(napi_create_external(env, box, watch_finalize, NULL, &handle));
  return handle;
}

/** unwatch(handle): stops a watch; idempotent. */
static napi_value unwatch_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void *data;
  if (!get_args(env, info, 1, argv) || napi_get_value_external(env, argv[0], &data) != napi_ok || !data)
    return throw_type(env, "unwatch(handle) takes a handle from watch()");
  WatchBox *box = data;
  Watch *watch = box->watch;
  if (!watch) return NULL;
  box->watch = NULL;
  watch->stopped = 1;
  uv_poll_stop(&watch->poll);
  napi_delete_reference(env, watch->callback);
  napi_async_destroy(env, watch->context);
  uv_close((uv_handle_t *)&watch->poll, watch_closed); // frees the watch
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor methods[] = {
      {"chipInfo", NULL, chip_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"requestLines", NULL, request_lines, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setValues", NULL, set_values, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getValues", NULL, get_values, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readEvents", NULL, read_events, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"grab", NULL, grab, NULL, NULL, NULL, napi_enumerable, NULL},
      {"monotonicNs", NULL, monotonic, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watch", NULL, watch_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unwatch", NULL, unwatch_fd, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods) != napi_ok) return NULL;
  return exports;
}
