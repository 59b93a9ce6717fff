/* The cashier workplace: sale (see kopilka/web/cashier/). */
