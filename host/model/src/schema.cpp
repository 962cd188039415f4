#include "reglo/model/schema.h"

namespace reglo::model {
namespace {

using FT = FieldType;
using PD = PersonalData;

const std::vector<std::string_view> kLicenseCategories = {
    "AM", "A1", "A2", "A", "B1", "B", "BE", "C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE"};

std::vector<EntitySpec> MakeEntities() {
  return {
      {"student",
       "students",
       {
           {"firstName", "first_name", FT::kText, {}, {}, PD::kName},
           {"lastName", "last_name", FT::kText, {}, {}, PD::kName},
           {"fiscalCode", "fiscal_code", FT::kFiscalCode, {}, {}, PD::kFiscalCode},
           {"birthDate", "birth_date", FT::kDate},
           {"email", "email", FT::kEmail, {}, {}, PD::kEmail},
           {"phone", "phone", FT::kPhone, {}, {}, PD::kPhone},
       }},
      {"case",
       "cases",
       {
           {"studentExternalId", "student_external_id", FT::kText},
           {"licenseCategory", "license_category", FT::kEnum, kLicenseCategories},
           {"status",
            "status",
            FT::kEnum,
            {"open", "theory_booked", "theory_passed", "learner_permit", "practical_booked",
             "licensed", "closed", "cancelled"}},
           {"openedAt", "opened_at", FT::kDate},
       },
       "status"},
      {"appointment",
       "appointments",
       {
           {"kind", "kind", FT::kEnum, {"lesson", "theory_exam", "practical_exam"}},
           {"startsAt", "starts_at", FT::kDateTime},
           {"endsAt", "ends_at", FT::kDateTime},
           {"studentExternalId", "student_external_id", FT::kText},
           {"caseExternalId", "case_external_id", FT::kText},
           {"instructorExternalId", "instructor_external_id", FT::kText},
           {"vehicleExternalId", "vehicle_external_id", FT::kText},
           {"status", "status", FT::kEnum, {"scheduled", "completed", "cancelled", "no_show"}},
       }},
      {"document",
       "documents",
       {
           {"ownerEntity", "owner_entity", FT::kEnum, {"student", "instructor", "vehicle"}},
           {"ownerExternalId", "owner_external_id", FT::kText},
           {"kind",
            "kind",
            FT::kEnum,
            {"identity_card", "medical_certificate", "learner_permit", "driving_license", "photo",
             "other"}},
           {"number", "number", FT::kText},
           {"issuedAt", "issued_at", FT::kDate},
           {"expiresAt", "expires_at", FT::kDate},
       }},
      {"payment",
       "payments",
       {
           {"studentExternalId", "student_external_id", FT::kText},
           {"caseExternalId", "case_external_id", FT::kText},
           {"amountCents", "amount_cents", FT::kInteger},
           {"currency", "currency", FT::kCurrency, {}, "EUR"},
           {"paidAt", "paid_at", FT::kDateTime},
           {"method", "method", FT::kEnum, {"cash", "card", "bank_transfer", "pos", "other"}},
           {"status", "status", FT::kEnum, {"pending", "paid", "refunded", "cancelled"}},
       }},
      {"instructor",
       "instructors",
       {
           {"firstName", "first_name", FT::kText, {}, {}, PD::kName},
           {"lastName", "last_name", FT::kText, {}, {}, PD::kName},
           {"fiscalCode", "fiscal_code", FT::kFiscalCode, {}, {}, PD::kFiscalCode},
           {"licenseCategories", "license_categories", FT::kCategoryList},
           {"email", "email", FT::kEmail, {}, {}, PD::kEmail},
           {"phone", "phone", FT::kPhone, {}, {}, PD::kPhone},
           {"active", "active", FT::kBoolean},
       }},
      {"vehicle",
       "vehicles",
       {
           {"plate", "plate", FT::kText},
           {"make", "make", FT::kText},
           {"model", "model", FT::kText},
           {"licenseCategory", "license_category", FT::kEnum, kLicenseCategories},
           {"transmission", "transmission", FT::kEnum, {"manual", "automatic"}},
           {"active", "active", FT::kBoolean},
       }},
  };
}

}  // namespace

int EntitySpec::FieldIndex(std::string_view field_name) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == field_name) return static_cast<int>(i);
  }
  return -1;
}

const std::vector<EntitySpec>& CanonicalEntities() {
  static const std::vector<EntitySpec> entities = MakeEntities();
  return entities;
}

const EntitySpec* FindEntity(std::string_view entity_name) {
  for (const EntitySpec& entity : CanonicalEntities()) {
    if (entity.name == entity_name) return &entity;
  }
  return nullptr;
}

const std::vector<std::string_view>& LicenseCategories() {
  return kLicenseCategories;
}

}  // namespace reglo::model
