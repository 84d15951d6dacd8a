#ifndef GREET_H
#define GREET_H
#define GREETING "hello from scratch"
void greet(const char *who);
#endif
