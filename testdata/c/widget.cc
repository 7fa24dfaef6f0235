// widget: a C++ workload whose probed functions have mangled names.
// Prints its pid, waits for a line on stdin, then calls
//   shapes::Widget::poke(int) N times and shapes::area(double, double) 2N times.
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace shapes {
class Widget {
public:
	__attribute__((noinline)) int poke(int x) { asm volatile(""); return x + state_++; }
private:
	int state_ = 0;
};
__attribute__((noinline)) double area(double w, double h) { asm volatile(""); return w * h; }
}  // namespace shapes

int main(int argc, char **argv) {
	int n = argc > 1 ? std::atoi(argv[1]) : 100;
	char line[16];
	std::printf("%d\n", (int)getpid());
	std::fflush(stdout);
	if (!std::fgets(line, sizeof line, stdin)) {}
	shapes::Widget w;
	double s = 0;
	for (int i = 0; i < n; i++) {
		s += w.poke(i);
		s += shapes::area(i, 2) + shapes::area(2, i);
	}
	std::printf("done %g\n", s);
	return 0;
}
