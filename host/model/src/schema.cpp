#include "reglo/model/schema.h"

namespace reglo::model {
namespace {

using FT = FieldType;
using PD = PersonalData;

const std::vector<std::string_view> kLicenseCategories = {
    "AM", "A1", "A2", "A", "B1", "B", "BE", "C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE"};

// Entries name their members (designated initializers): each says what it sets, the rest default.
std::vector<EntitySpec> MakeEntities() {
  // The personal fields students and instructors share.
  const FieldSpec first_name{.name = "firstName",
                             .column = "first_name",
                             .personal = PD::kName,
                             .description = "Given name(s)."};
  const FieldSpec last_name{.name = "lastName",
                            .column = "last_name",
                            .personal = PD::kName,
                            .description = "Family name(s)."};
  const FieldSpec fiscal_code{.name = "fiscalCode",
                              .column = "fiscal_code",
                              .type = FT::kFiscalCode,
                              .personal = PD::kFiscalCode,
                              .description = "Codice fiscale."};
  const FieldSpec email{.name = "email",
                        .column = "email",
                        .type = FT::kEmail,
                        .personal = PD::kEmail,
                        .description = "Contact e-mail address."};
  const FieldSpec phone{.name = "phone",
                        .column = "phone",
                        .type = FT::kPhone,
                        .personal = PD::kPhone,
                        .description = "Phone number, with the country prefix when not Italian."};
  return {
      {"student",
       "students",
       "A learner of the driving school (Allievo).",
       {
           first_name,
           last_name,
           fiscal_code,
           {.name = "birthDate",
            .column = "birth_date",
            .type = FT::kDate,
            .personal = PD::kOther,
            .description = "Date of birth."},
           email,
           phone,
       }},
      {"case",
       "cases",
       "A student's path to one licence, from enrolment to the licence (Pratica).",
       {
           {.name = "studentExternalId",
            .column = "student_external_id",
            .description = "The student the case belongs to.",
            .references = "student"},
           {.name = "licenseCategory",
            .column = "license_category",
            .type = FT::kEnum,
            .allowed = kLicenseCategories,
            .description = "The licence category sought."},
           {.name = "status",
            .column = "status",
            .type = FT::kEnum,
            .allowed = {"open", "theory_booked", "theory_passed", "learner_permit",
                        "practical_booked", "licensed", "closed", "cancelled"},
            .description = "Where the case stands; learner_permit is the foglio rosa."},
           {.name = "openedAt",
            .column = "opened_at",
            .type = FT::kDate,
            .description = "The day the case was opened."},
       },
       "status"},
      {"appointment",
       "appointments",
       "A driving lesson or an exam session (Guida / Esame).",
       {
           {.name = "kind",
            .column = "kind",
            .type = FT::kEnum,
            .allowed = {"lesson", "theory_exam", "practical_exam"},
            .description = "What the appointment is."},
           {.name = "startsAt",
            .column = "starts_at",
            .type = FT::kDateTime,
            .description = "When it starts."},
           {.name = "endsAt",
            .column = "ends_at",
            .type = FT::kDateTime,
            .description = "When it ends."},
           {.name = "studentExternalId",
            .column = "student_external_id",
            .description = "The student attending.",
            .references = "student"},
           {.name = "caseExternalId",
            .column = "case_external_id",
            .description = "The case the appointment counts towards.",
            .references = "case"},
           {.name = "instructorExternalId",
            .column = "instructor_external_id",
            .description = "The instructor or examiner in charge.",
            .references = "instructor"},
           {.name = "vehicleExternalId",
            .column = "vehicle_external_id",
            .description = "The vehicle used.",
            .references = "vehicle"},
           {.name = "status",
            .column = "status",
            .type = FT::kEnum,
            .allowed = {"scheduled", "completed", "cancelled", "no_show"},
            .description = "Whether it took place."},
       }},
      {"document",
       "documents",
       "A document on file for a student, an instructor or a vehicle.",
       {
           {.name = "ownerEntity",
            .column = "owner_entity",
            .type = FT::kEnum,
            .allowed = {"student", "instructor", "vehicle"},
            .description = "The entity that ownerExternalId refers to."},
           {.name = "ownerExternalId",
            .column = "owner_external_id",
            .description = "The externalId of the owner, an entity of the kind ownerEntity names."},
           {.name = "kind",
            .column = "kind",
            .type = FT::kEnum,
            .allowed = {"identity_card", "medical_certificate", "learner_permit", "driving_license",
                        "photo", "other"},
            .description = "What the document is."},
           {.name = "number",
            .column = "number",
            .personal = PD::kOther,
            .description = "The document's number, as printed on it."},
           {.name = "issuedAt",
            .column = "issued_at",
            .type = FT::kDate,
            .description = "Day of issue."},
           {.name = "expiresAt",
            .column = "expires_at",
            .type = FT::kDate,
            .description = "Day of expiry."},
       }},
      {"payment",
       "payments",
       "A payment by a student, usually towards a case.",
       {
           {.name = "studentExternalId",
            .column = "student_external_id",
            .description = "The student who paid.",
            .references = "student"},
           {.name = "caseExternalId",
            .column = "case_external_id",
            .description = "The case the payment is for.",
            .references = "case"},
           {.name = "amountCents",
            .column = "amount_cents",
            .type = FT::kInteger,
            .description = "The amount in the currency's smallest unit (cents): 12.50 EUR is "
                           "1250."},
           {.name = "currency",
            .column = "currency",
            .type = FT::kCurrency,
            .default_value = "EUR",
            .description = "Currency of the amount."},
           {.name = "paidAt",
            .column = "paid_at",
            .type = FT::kDateTime,
            .description = "When it was paid (or recorded, while pending)."},
           {.name = "method",
            .column = "method",
            .type = FT::kEnum,
            .allowed = {"cash", "card", "bank_transfer", "pos", "other"},
            .description = "How it was paid."},
           {.name = "status",
            .column = "status",
            .type = FT::kEnum,
            .allowed = {"pending", "paid", "refunded", "cancelled"},
            .description = "Where the payment stands."},
       }},
      {"instructor",
       "instructors",
       "A driving instructor or theory teacher of the school.",
       {
           first_name,
           last_name,
           fiscal_code,
           {.name = "licenseCategories",
            .column = "license_categories",
            .type = FT::kCategoryList,
            .description = "The categories the instructor teaches."},
           email,
           phone,
           {.name = "active",
            .column = "active",
            .type = FT::kBoolean,
            .description = "Whether the instructor currently works for the school."},
       }},
      {"vehicle",
       "vehicles",
       "A vehicle of the school's fleet.",
       {
           {.name = "plate", .column = "plate", .description = "Number plate (targa)."},
           {.name = "make", .column = "make", .description = "Manufacturer."},
           {.name = "model", .column = "model", .description = "Model name."},
           {.name = "licenseCategory",
            .column = "license_category",
            .type = FT::kEnum,
            .allowed = kLicenseCategories,
            .description = "The licence category the vehicle trains for."},
           {.name = "transmission",
            .column = "transmission",
            .type = FT::kEnum,
            .allowed = {"manual", "automatic"},
            .description = "Gearbox."},
           {.name = "active",
            .column = "active",
            .type = FT::kBoolean,
            .description = "Whether the vehicle is in service."},
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

const std::vector<std::string_view>& BooleanTrueSpellings() {
  // "s\xc3\xac" is "s\u00ec" (Italian "yes"), as exports of Italian software write it.
  static const std::vector<std::string_view> spellings = {"true", "1",         "yes", "y",
                                                          "si",   "s\xc3\xac", "s",   "x"};
  return spellings;
}

const std::vector<std::string_view>& BooleanFalseSpellings() {
  static const std::vector<std::string_view> spellings = {"false", "0", "no", "n"};
  return spellings;
}

}  // namespace reglo::model
