{
  "targets": [
    {
      "target_name": "tumbler_gpio",
      "sources": ["gpio_uapi.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
