// The admin API's stores: lent from the hub's one bounded pool type (reglo/storage/store_pool.h),
// at most kAdminStores open at once; a request beyond that waits for one. Private to host/admin.
// Thread-safe.
#pragma once

#include "reglo/storage/store_pool.h"

namespace reglo::admin {

class StorePool : public storage::StorePool<storage::Store> {
 public:
  // A listener serves a few requests at a time; more stores would only hold connections.
  static constexpr size_t kAdminStores = 8;
  explicit StorePool(Factory open)
      : storage::StorePool<storage::Store>(std::move(open), kAdminStores) {}
};

}  // namespace reglo::admin
