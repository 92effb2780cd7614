/* RCU thread roles for the SA database: see esp_sadb.h. */
#include "esp/esp_sa.h"
#include "esp/esp_sadb.h"

void esp_rcu_register(void)
{
    rcu_register_thread();
}

void esp_rcu_unregister(void)
{
    rcu_unregister_thread();
}

void esp_rcu_quiescent(void)
{
    rcu_quiescent_state();
}

void esp_rcu_offline(void)
{
    rcu_thread_offline();
}

void esp_rcu_online(void)
{
    rcu_thread_online();
}

void esp_rcu_register_writer(void)
{
    rcu_register_thread();
    rcu_thread_offline();
}
