{
  "targets": [
    {
      "target_name": "unixid_native",
      "sources": ["native/unixid_native.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').gyp\")"],
      "libraries": ["-lpam"],
      # Never unmapped: a detached call thread may still be running this code when the env that
      # loaded it (a worker_threads Worker, or the process at exit) is gone.
      "ldflags": ["-Wl,-z,nodelete"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fexceptions", "-O2"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      # _ALL: a std::exception (out of memory, no thread to start) reaches JS as an Error instead of
      # std::terminate. SWALLOW_...: a reply that arrives while its env shuts down (and can run no
      # JS) is dropped instead of aborting the process.
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"]
    }
  ]
}
