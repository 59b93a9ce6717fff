/* The cashier workplace: offline (see kopilka/web/cashier/). */
