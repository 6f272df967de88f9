// gen_procedural: procedural HDR training images and moving test sequences with their true
// motion. The command line lives in tools/lib/procedural_tool.cpp, so the tests run the same code.
#include "tools/lib/procedural_tool.h"

int main(int argc, char** argv) { return steady::gen_procedural_main(argc, argv); }
