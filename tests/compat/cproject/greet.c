#include <stdio.h>

#include "greet.h"

void greet(const char *who)
{
	printf("%s, %s\n", GREETING, who);
}
