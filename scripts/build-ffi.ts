console.log("build-ffi placeholder");
