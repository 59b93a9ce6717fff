/* The cashier workplace: signin (see kopilka/web/cashier/). */
