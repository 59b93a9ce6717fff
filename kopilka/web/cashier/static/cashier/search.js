/* The cashier workplace: search (see kopilka/web/cashier/). */
