# Compile options shared by kiln's own targets.

if(KILN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Warnings (as errors with KILN_WERROR) for a kiln target.
function(kiln_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                                           -Wno-unknown-pragmas
                                           -Wno-missing-field-initializers
                                           # g++ 12 reports std::string concatenation
                                           # falsely (GCC bug 105329).
                                           -Wno-restrict)
  if(KILN_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
