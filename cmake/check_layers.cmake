# The layers, lowest first, and the folders each may include from. A file's includes of the
# project's own headers ("folder/name.h") must stay within its layer or below; anything else
# fails the build, naming the file, the line and the rule.
#   engine   engine/ (tensor, autograd, backends)      -> engine
#   kernels  kernels/ (the ops' CPU and CUDA twins)     -> engine, kernels
#   nn       models/, losses/                          -> engine, kernels, models, losses
#   data     data/ (images, video, procedural, metrics) -> engine, kernels, data
#   app      tools/lib/, tools/                        -> everything
# Libraries follow the same order (CMakeLists.txt): steady_engine (engine + kernels),
# steady_nn, steady_data, steady_app.
#
# Run as: cmake -DROOT=<source folder> [-DSTAMP=<file>] -P check_layers.cmake
if(NOT ROOT)
  message(FATAL_ERROR "check_layers: set -DROOT=<source folder>")
endif()
set(allowed_engine engine)
set(allowed_kernels engine kernels)
set(allowed_models engine kernels models losses)
set(allowed_losses engine kernels models losses)
set(allowed_data engine kernels data)

set(violations "")
foreach(layer engine kernels models losses data)
  file(GLOB_RECURSE files "${ROOT}/${layer}/*.h" "${ROOT}/${layer}/*.cpp" "${ROOT}/${layer}/*.cu"
       "${ROOT}/${layer}/*.cuh")
  foreach(file ${files})
    file(STRINGS "${file}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"")
    foreach(line ${lines})
      if(line MATCHES "#[ \t]*include[ \t]*\"([A-Za-z0-9_]+)/")
        set(target "${CMAKE_MATCH_1}")
        if(target STREQUAL "tools" OR target STREQUAL "models" OR target STREQUAL "losses" OR
           target STREQUAL "data" OR target STREQUAL "engine" OR target STREQUAL "kernels")
          list(FIND allowed_${layer} "${target}" ok)
          if(ok EQUAL -1)
            file(RELATIVE_PATH rel "${ROOT}" "${file}")
            string(STRIP "${line}" line)
            list(APPEND violations "${rel}: ${line} (${layer}/ may include only ${allowed_${layer}})")
          endif()
        endif()
      endif()
    endforeach()
  endforeach()
endforeach()
if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "check_layers: an include runs from a lower layer to a higher one:\n  ${text}")
endif()
if(STAMP)
  file(TOUCH "${STAMP}")
endif()
