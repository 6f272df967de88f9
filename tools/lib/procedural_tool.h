// The gen_procedural command line (tools/gen_procedural.cpp is its main). Kept in the library so
// tests run the very same code in-process:
//   gen_procedural OUT --train N --test-seqs S --frames F --size P --seed K [--half]
//                  [--multipart] [--previews] [--sat-min A] [--sat-max B] [--fps R] [--beams Q]
//   gen_procedural OUT --pan IMAGE.exr [--test-seqs S] --frames F --size P --seed K [...]
//                  test sequences only (S defaults to 1): a window panned across a real HDR
//                  image (data/procedural.h), written exactly like the procedural ones, with
//                  the window's path (window_x, window_y) in each sequence's JSON
// writes
//   OUT/train/NNNNN.exr                      static training images
//   OUT/test/seq_NNN/frame_NNNN.exr          test sequences (framesPerSecond in each header)
//   OUT/test/seq_NNN/flow/flow_NNNN.exr      true motion per frame (data/metrics.h layout)
//   OUT/test/seq_NNN/sequence.json           frames, fps, saturated share, exposure scale
//   with --multipart instead: OUT/test/seq_NNN.exr (one part per frame), seq_NNN.flow.exr,
//   seq_NNN.json
//   OUT/previews/*.png                       with --previews: tone-mapped views to look at
//   OUT/info.json                            the settings and the conventions
// Returns the exit code: 0 done (or --help), 1 on any error (one line on stderr).
#pragma once

namespace steady {

int gen_procedural_main(int argc, char** argv);

}  // namespace steady
