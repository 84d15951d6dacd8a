int count_chars(const char *s);

int count_chars(const char *s)
{
	int n = 0;

	while (s[n])
		n++;
	return n;
}
