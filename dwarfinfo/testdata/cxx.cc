// C++ fixture: namespaces, a class method, overloads and a reference param.
namespace ns {

class Widget {
public:
	explicit Widget(int v) : value_(v) {}
	int poke(int x);
	long poke(long x, const Widget &other);
	static int count(void);

private:
	int value_;
};

__attribute__((noinline)) int Widget::poke(int x) { return value_ + x; }
__attribute__((noinline)) long Widget::poke(long x, const Widget &other) { return value_ + x + other.value_; }
__attribute__((noinline)) int Widget::count(void) { return 42; }

} // namespace ns

__attribute__((noinline)) int free_function(ns::Widget *w) { return w->poke(1); }

int main()
{
	ns::Widget w(3);
	return free_function(&w) + (int)w.poke(2L, w) + ns::Widget::count() == 7;
}
