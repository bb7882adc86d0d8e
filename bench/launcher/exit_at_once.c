// The benchmark's program: static, exits at once, so what is measured is starting and
// collecting it, not running it.
int main(void) { return 0; }
