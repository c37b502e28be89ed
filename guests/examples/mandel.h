/*
 * mandel.h - the Mandelbrot set as text, header-only so that the guest and
 * the host-side test compute it with the very same floating-point code.
 * emit(c) receives each character, row by row, each row ending in '\n'.
 */
#ifndef TINCAN_EXAMPLE_MANDEL_H
#define TINCAN_EXAMPLE_MANDEL_H

#define MANDEL_W    72
#define MANDEL_H    28
#define MANDEL_ITER 200

static void mandel(void (*emit)(char))
{
    static const char shade[] = " .:-=+*#%@";

    for (int y = 0; y < MANDEL_H; y++) {
        for (int x = 0; x < MANDEL_W; x++) {
            double cr = -2.2 + 3.0 * x / MANDEL_W;
            double ci = -1.2 + 2.4 * y / MANDEL_H;
            double zr = 0, zi = 0;
            int i = 0;
            while (i < MANDEL_ITER && zr * zr + zi * zi <= 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2 * zr * zi + ci;
                zr = t;
                i++;
            }
            emit(i == MANDEL_ITER ? '@' : shade[i % 9]);
        }
        emit('\n');
    }
}

#endif
