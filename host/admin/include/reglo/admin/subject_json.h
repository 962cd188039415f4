// The documents of a subject request (issue #18 §1), as the CLI prints them and the admin API
// answers them: a subject's export, with the API's row views and personal values in clear (it is
// the subject's own data, for their access request), and what an erasure did. Pure functions.
#pragma once

#include <string>

#include "reglo/storage/subject_store.h"

namespace reglo::admin {

std::string SubjectExportJson(const storage::SubjectQuery& query,
                              const storage::SubjectExport& data);
std::string ErasureResultJson(const storage::ErasureResult& result);

}  // namespace reglo::admin
