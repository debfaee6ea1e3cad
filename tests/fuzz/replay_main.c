/*
 * replay_main.c — the main() of every *_replay fuzz binary: runs each file
 * given, or each regular file in each directory given, through the target's
 * LLVMFuzzerTestOneInput once, without libFuzzer (any compiler), e.g. to
 * replay a corpus in the unit suite or a crash under gdb/ASan.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	static uint8_t buf[1 << 17];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned runs = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) == 0)
				runs++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path) == 0)
				runs++;
		}
		if (d != NULL)
			closedir(d);
	}
	printf("%s: %u inputs ran\n", argv[0], runs);
	return 0;
}
