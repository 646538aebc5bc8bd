// The one Lethe executable. All behaviour lives in the libraries; see src/cli/app.cpp.
#include "src/cli/app.h"

int main(int argc, char** argv) { return lethe::run_cli(argc, argv); }
