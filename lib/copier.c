/* copier.c - placeholder */
typedef int copier_placeholder;
