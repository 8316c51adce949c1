{
  "targets": [
    {
      "target_name": "unixid_native",
      "sources": ["native/unixid_native.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').gyp\")"],
      "libraries": ["-lpam"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fexceptions", "-O2"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"]
    }
  ]
}
