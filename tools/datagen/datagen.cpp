// reglo-datagen: row generation, codice fiscale, option parsing and streaming file output.
// See datagen.h for the determinism contract.
#include "datagen.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <system_error>

namespace reglo::datagen {
namespace {

// ---------------------------------------------------------------------------------------------
// Vocabulary. Plain arrays of literals: no allocation, and a row picks by index.

constexpr std::array kMaleNames = {
    "Alessandro", "Andrea",   "Antonio",   "Davide",    "Emanuele", "Federico", "Filippo",
    "Francesco",  "Gabriele", "Giacomo",   "Giovanni",  "Giuseppe", "Leonardo", "Lorenzo",
    "Luca",       "Marco",    "Matteo",    "Mattia",    "Michele",  "Nicolò",   "Niccolò",
    "Pietro",     "Raffaele", "Riccardo",  "Salvatore", "Samuele",  "Simone",   "Stefano",
    "Tommaso",    "Vincenzo", "Christian", "Daniele",   "Diego",    "Edoardo",  "Elia",
    "Fabio",      "Gianluca", "Jacopo",    "Manuel",    "Massimo",  "Paolo",    "Pasquale",
    "Roberto",    "Rocco",    "Sergio",    "Angelo",    "Carmine",  "Domenico", "Cosimo",
    "Gian Marco"};

constexpr std::array kFemaleNames = {
    "Alessia",      "Alice",     "Anna",     "Arianna",   "Aurora",   "Beatrice", "Camilla",
    "Carlotta",     "Caterina",  "Chiara",   "Elena",     "Elisa",    "Emma",     "Federica",
    "Francesca",    "Gaia",      "Giada",    "Ginevra",   "Giorgia",  "Giulia",   "Greta",
    "Ilaria",       "Irene",     "Laura",    "Letizia",   "Ludovica", "Marta",    "Martina",
    "Maria Grazia", "Matilde",   "Michela",  "Nicole",    "Noemi",    "Rebecca",  "Sara",
    "Serena",       "Silvia",    "Sofia",    "Valentina", "Veronica", "Vittoria", "Rosa",
    "Teresa",       "Antonella", "Annalisa", "Benedetta", "Lucia",    "Miriam",   "Angela",
    "Carmela"};

// Accents, apostrophes and spaces are deliberate: they exercise UTF-8 handling and the
// codice fiscale rules for composite surnames.
constexpr std::array kSurnames = {
    "Rossi",      "Russo",   "Ferrari",    "Esposito",   "Bianchi",    "Romano",     "Colombo",
    "Ricci",      "Marino",  "Greco",      "Bruno",      "Gallo",      "Conti",      "De Luca",
    "Mancini",    "Costa",   "Giordano",   "Rizzo",      "Lombardi",   "Moretti",    "Barbieri",
    "Fontana",    "Santoro", "Mariani",    "Rinaldi",    "Caruso",     "Ferrara",    "Galli",
    "Martini",    "Leone",   "Longo",      "Gentile",    "Martinelli", "Vitale",     "Lombardo",
    "Serra",      "Coppola", "De Santis",  "D'Angelo",   "Marchetti",  "Parisi",     "Villa",
    "Conte",      "Ferraro", "Ferri",      "Fabbri",     "Bianco",     "Marini",     "Grasso",
    "Valentini",  "Messina", "Sala",       "De Angelis", "Gatti",      "Pellegrini", "Palumbo",
    "Sanna",      "Farina",  "Rizzi",      "Monti",      "Cattaneo",   "Morelli",    "Amato",
    "Silvestri",  "Mazza",   "Testa",      "Grassi",     "Pellegrino", "Carbone",    "Giuliani",
    "Benedetti",  "Barone",  "Rossetti",   "Caputo",     "Montanari",  "Guerra",     "Palmieri",
    "Bernardi",   "Martino", "Fiore",      "De Rosa",    "Ferretti",   "Bellini",    "Basile",
    "Riva",       "Donati",  "Piras",      "Vitali",     "Battaglia",  "Sartori",    "Neri",
    "Costantini", "Milani",  "Pagano",     "Ruggiero",   "Sorrentino", "D'Amico",    "Orlando",
    "Lucà",       "Cantù",   "Dell'Acqua", "Di Stefano", "La Rosa",    "Lo Russo",   "Zoppè"};

// Belfiore codes of towns (and a few countries, Z...) of birth. Only the code reaches the file,
// inside the codice fiscale; the names document what the codes are.
constexpr std::array kBirthPlaces = {
    "H501" /* Roma */,       "F205" /* Milano */,      "F839" /* Napoli */,
    "L219" /* Torino */,     "G273" /* Palermo */,     "D969" /* Genova */,
    "A944" /* Bologna */,    "D612" /* Firenze */,     "A662" /* Bari */,
    "C351" /* Catania */,    "L736" /* Venezia */,     "L781" /* Verona */,
    "F158" /* Messina */,    "G224" /* Padova */,      "L424" /* Trieste */,
    "B157" /* Brescia */,    "G337" /* Parma */,       "L049" /* Taranto */,
    "F257" /* Modena */,     "H224" /* Reggio C. */,   "G478" /* Perugia */,
    "E625" /* Livorno */,    "B354" /* Cagliari */,    "D643" /* Foggia */,
    "H703" /* Salerno */,    "G482" /* Pescara */,     "A794" /* Bergamo */,
    "L378" /* Trento */,     "A271" /* Ancona */,      "E506" /* Lecce */,
    "A669" /* Barletta */,   "A285" /* Andria */,      "C514" /* Cerignola */,
    "I158" /* San Severo */, "E885" /* Manfredonia */, "E716" /* Lucera */,
    "Z100" /* Albania */,    "Z129" /* Romania */,     "Z330" /* Marocco */};

constexpr std::array kMailDomains = {"gmail.com",  "libero.it",   "hotmail.it", "yahoo.it",
                                     "outlook.it", "virgilio.it", "alice.it",   "tiscali.it"};

// Mostly empty in real exports; one note holds a ';' so the quoting path is exercised.
constexpr std::array kNotes = {"Richiede guide il sabato", "Contattare solo via e-mail",
                               "Pagamento a rate; seconda rata a fine mese",
                               "Porta lenti correttive", "Fratello di un ex allievo"};

// Weighted by how often each appears in a real school: most pratiche are for the B licence.
constexpr std::array kCategories = {"B", "B", "B",  "B",  "B",  "B", "B",  "B", "B",  "B",
                                    "B", "B", "AM", "A1", "A2", "A", "BE", "C", "CE", "D"};

// Source status words exactly as the sample's value map knows them, in workflow order, so a
// changed case simply advances one step.
constexpr std::array kCaseStatus = {"aperta",      "teoria prenotata", "teoria superata",
                                    "foglio rosa", "guida prenotata",  "patentato",
                                    "chiusa",      "annullata"};
constexpr std::array<uint32_t, kCaseStatus.size()> kCaseStatusWeight = {10, 10, 10, 30,
                                                                        10, 15, 10, 5};

constexpr int64_t kDay = 86400;
// Base rows are last modified in [2024-01-01, 2025-03-15); changed rows on or after 2025-03-16,
// so a resync always sees them as newer and never as stale.
constexpr int64_t kBaseFrom = 1704067200;  // 2024-01-01T00:00:00
constexpr int64_t kExportAt = 1741996800;  // 2025-03-15T00:00:00
constexpr int64_t kChangedFrom = kExportAt + kDay;

// Stream tags keep the row generators of different entities independent of each other.
constexpr uint64_t kStudentTag = 0x53545544454e54ULL;
constexpr uint64_t kCaseTag = 0x43415345ULL;
constexpr uint64_t kAppointmentTag = 0x4755494441ULL;

SplitMix64 RowRng(uint64_t seed, uint64_t tag, uint64_t index) {
  return SplitMix64(Mix64(seed ^ Mix64(tag ^ Mix64(index))));
}

template <typename Array>
auto Pick(SplitMix64& rng, const Array& items) {
  return items[rng.Below(items.size())];
}

// ---------------------------------------------------------------------------------------------
// Fast appenders: snprintf per field would dominate the run time at 1M rows.

void AppendUint(std::string& out, uint64_t value) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  (void)ec;  // cannot fail: the buffer holds any uint64_t
  out.append(buffer, end);
}

// `value` with leading zeros to `width` digits.
void AppendPadded(std::string& out, uint64_t value, size_t width) {
  char buffer[24];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  (void)ec;
  const size_t digits = static_cast<size_t>(end - buffer);
  if (digits < width) out.append(width - digits, '0');
  out.append(buffer, end);
}

void Append2(std::string& out, int value) {
  out += static_cast<char>('0' + value / 10 % 10);
  out += static_cast<char>('0' + value % 10);
}

void AppendDate(std::string& out, Date date) {  // dd/mm/yyyy
  Append2(out, date.day);
  out += '/';
  Append2(out, date.month);
  out += '/';
  Append2(out, date.year / 100);
  Append2(out, date.year % 100);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// dd/mm/yyyy HH:MM, optionally :SS.
void AppendDateTime(std::string& out, int64_t epoch_seconds, bool with_seconds) {
  const int64_t days = FloorDiv(epoch_seconds, kDay);
  const int64_t second_of_day = epoch_seconds - days * kDay;
  AppendDate(out, DateFromDays(days));
  out += ' ';
  Append2(out, static_cast<int>(second_of_day / 3600));
  out += ':';
  Append2(out, static_cast<int>(second_of_day / 60 % 60));
  if (with_seconds) {
    out += ':';
    Append2(out, static_cast<int>(second_of_day % 60));
  }
}

// A CSV field: quoted only when it must be, as the sample's legacy exporter does.
void AppendField(std::string& out, std::string_view value) {
  if (value.find_first_of(";\"\n\r") == std::string_view::npos) {
    out.append(value);
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// Uppercase ASCII letters of a UTF-8 name; accented vowels (U+00C0..U+00FF, two bytes starting
// 0xC3) become their base letter, everything else that is not a letter is dropped.
std::string Letters(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else if (c >= 'A' && c <= 'Z') {
      out += static_cast<char>(c);
    } else if (c == 0xC3 && i + 1 < text.size()) {
      const unsigned char low = static_cast<unsigned char>(text[++i]) & 0xDF;  // fold case
      if (low >= 0x80 && low <= 0x85)
        out += 'A';
      else if (low >= 0x88 && low <= 0x8B)
        out += 'E';
      else if (low >= 0x8C && low <= 0x8F)
        out += 'I';
      else if (low >= 0x92 && low <= 0x96)
        out += 'O';
      else if (low >= 0x99 && low <= 0x9C)
        out += 'U';
    }
  }
  return out;
}

bool IsVowel(char c) {
  return c == 'A' || c == 'E' || c == 'I' || c == 'O' || c == 'U';
}

// Three characters from consonants, then vowels, then 'X' padding. For first names with four
// or more consonants the 1st, 3rd and 4th consonant are taken instead.
std::string NamePart(std::string_view text, bool first_name) {
  const std::string letters = Letters(text);
  std::string consonants;
  std::string vowels;
  for (char c : letters) (IsVowel(c) ? vowels : consonants) += c;
  if (first_name && consonants.size() >= 4) {
    return {consonants[0], consonants[2], consonants[3]};
  }
  std::string part = consonants + vowels + "XXX";
  return part.substr(0, 3);
}

void AppendEmailLocal(std::string& out, std::string_view name) {
  for (char c : Letters(name)) out += static_cast<char>(c - 'A' + 'a');
}

// ---------------------------------------------------------------------------------------------
// Rows. Each returns through `out` and draws only from its own row RNG.

void AppendStudent(const Options& options, uint64_t index, std::string& out) {
  SplitMix64 rng = RowRng(options.seed, kStudentTag, index);
  const bool female = rng.Chance(50);
  const char* name = female ? Pick(rng, kFemaleNames) : Pick(rng, kMaleNames);
  const char* surname = Pick(rng, kSurnames);
  // Most allievi are 17-25; some adults come for a first licence or a new category.
  const bool young = rng.Chance(80);
  const int64_t birth_from = young ? 10957 /* 2000-01-01 */ : -1826 /* 1965-01-01 */;
  const int64_t birth_to = young ? 14245 /* 2009-01-01 */ : 10957;
  const Date birth = DateFromDays(
      birth_from + static_cast<int64_t>(rng.Below(static_cast<uint64_t>(birth_to - birth_from))));
  const char* place = Pick(rng, kBirthPlaces);
  const char* domain = Pick(rng, kMailDomains);
  uint64_t phone = 3000000000ULL + rng.Below(900000000ULL);  // Italian mobile: 3xx xxxxxxx
  const bool has_note = rng.Chance(2);
  const char* note = Pick(rng, kNotes);
  int64_t updated = kBaseFrom + static_cast<int64_t>(rng.Below(kExportAt - kBaseFrom));

  const bool changed = IsChanged(index, options.change_basis_points);
  if (changed) {
    // A real change of a canonical field: the last digit of the phone moves on by one.
    phone = phone - phone % 10 + (phone % 10 + 1) % 10;
    updated = kChangedFrom + static_cast<int64_t>(rng.Below(5 * kDay));
  }

  AppendUint(out, index + 1);
  out += ';';
  out.append(surname);
  out += ';';
  out.append(name);
  out += ';';
  out.append(FiscalCode(surname, name, birth, female, place));
  out += ';';
  AppendDate(out, birth);
  out += ';';
  AppendEmailLocal(out, name);
  out += '.';
  AppendEmailLocal(out, surname);
  AppendUint(out, index + 1);  // keeps addresses unique at any size
  out += '@';
  out.append(domain);
  out += ";+39 ";
  AppendUint(out, phone / 10000000);
  out += ' ';
  AppendPadded(out, phone % 10000000, 7);
  out += ';';
  if (has_note) AppendField(out, note);
  out += ';';
  AppendDateTime(out, updated, true);
  out += '\n';
}

size_t WeightedCaseStatus(SplitMix64& rng) {
  uint32_t total = 0;
  for (uint32_t weight : kCaseStatusWeight) total += weight;
  uint32_t roll = static_cast<uint32_t>(rng.Below(total));
  for (size_t i = 0; i < kCaseStatusWeight.size(); ++i) {
    if (roll < kCaseStatusWeight[i]) return i;
    roll -= kCaseStatusWeight[i];
  }
  return 0;
}

void AppendCase(const Options& options, uint64_t index, std::string& out) {
  SplitMix64 rng = RowRng(options.seed, kCaseTag, index);
  const uint64_t student = index / options.cases_per_student + 1;
  const char* category = Pick(rng, kCategories);
  size_t status = WeightedCaseStatus(rng);
  const int64_t opened_day = 19358 /* 2023-01-01 */ + static_cast<int64_t>(rng.Below(803));
  // Last modified after it was opened (and in the base window), never before.
  const int64_t touched_from = std::max(opened_day * kDay, kBaseFrom);
  int64_t updated = touched_from + static_cast<int64_t>(rng.Below(kExportAt - touched_from));
  if (IsChanged(index, options.change_basis_points)) {
    status = (status + 1) % kCaseStatus.size();  // one step on: a case.status_changed event
    updated = kChangedFrom + static_cast<int64_t>(rng.Below(5 * kDay));
  }
  AppendUint(out, index + 1);
  out += ';';
  AppendUint(out, student);
  out += ';';
  out.append(category);
  out += ';';
  out.append(kCaseStatus[status]);
  out += ';';
  AppendDate(out, DateFromDays(opened_day));
  out += ';';
  AppendDateTime(out, updated, true);
  out += '\n';
}

void AppendAppointment(const Options& options, uint64_t index, std::string& out) {
  SplitMix64 rng = RowRng(options.seed, kAppointmentTag, index);
  const uint64_t student = index / options.appointments_per_student + 1;
  // The student's first pratica, numbered as AppendCase numbers them.
  const uint64_t case_id = (student - 1) * options.cases_per_student + 1;
  const bool exam = rng.Chance(10);
  int64_t day = 19723 /* 2024-01-01 */ + static_cast<int64_t>(rng.Below(450));
  if ((day + 4) % 7 == 0) ++day;  // no lessons on Sundays (1970-01-01 was a Thursday)
  const int64_t starts =
      day * kDay + (8 + static_cast<int64_t>(rng.Below(11))) * 3600 + (rng.Chance(50) ? 1800 : 0);
  const int64_t ends = starts + (exam ? 1800 : 3600);
  // Instructors 1-4 and vehicles 1-5 are those of the sample (istruttori.csv, veicoli.csv).
  const uint64_t instructor = 1 + rng.Below(4);
  const uint64_t vehicle = 1 + rng.Below(5);
  const char* status;
  const uint64_t roll = rng.Below(100);
  if (starts >= kExportAt) {
    status = "prenotata";
  } else {
    status = roll < 85 ? "svolta" : roll < 95 ? "annullata" : "assente";
  }
  // Past appointments were last touched on their evening, future ones some days before export.
  int64_t updated = starts < kExportAt ? (starts - starts % kDay) + 19 * 3600 +
                                             static_cast<int64_t>(rng.Below(3600))
                                       : kExportAt - 1 - static_cast<int64_t>(rng.Below(20 * kDay));
  if (IsChanged(index, options.change_basis_points)) {
    const std::string_view current = status;
    status = current == "prenotata"   ? "annullata"
             : current == "svolta"    ? "assente"
             : current == "annullata" ? "prenotata"
                                      : "svolta";
    updated = kChangedFrom + static_cast<int64_t>(rng.Below(5 * kDay));
  }
  AppendUint(out, index + 1);
  out.append(exam ? ";esame pratico;" : ";guida;");
  AppendDateTime(out, starts, false);
  out += ';';
  AppendDateTime(out, ends, false);
  out += ';';
  AppendUint(out, student);
  out += ';';
  AppendUint(out, case_id);
  out += ';';
  AppendUint(out, instructor);
  out += ';';
  AppendUint(out, vehicle);
  out += ';';
  out.append(status);
  out += ';';
  AppendDateTime(out, updated, true);
  out += '\n';
}

// ---------------------------------------------------------------------------------------------
// Option parsing helpers.

bool ParseUint(std::string_view text, uint64_t max, uint64_t& value) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && value <= max;
}

// A percentage with at most two decimals, "10", "2.5", "0.25", into basis points.
bool ParsePercent(std::string_view text, uint32_t& basis_points) {
  const size_t dot = text.find('.');
  uint64_t whole = 0;
  uint64_t fraction = 0;
  std::string_view fraction_text = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (!ParseUint(text.substr(0, dot), 100, whole)) return false;
  if (dot != std::string_view::npos) {
    if (fraction_text.empty() || fraction_text.size() > 2 ||
        !ParseUint(fraction_text, 99, fraction)) {
      return false;
    }
    if (fraction_text.size() == 1) fraction *= 10;
  }
  const uint64_t total = whole * 100 + fraction;
  if (total > 10000) return false;
  basis_points = static_cast<uint32_t>(total);
  return true;
}

bool ParseEntities(std::string_view text, std::vector<Entity>& entities, std::string& error) {
  entities.clear();
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view name = text.substr(0, comma);
    Entity entity;
    if (name == "student")
      entity = Entity::kStudent;
    else if (name == "case")
      entity = Entity::kCase;
    else if (name == "appointment")
      entity = Entity::kAppointment;
    else {
      error = "--entities: unknown entity '" + std::string(name) +
              "' (expected a comma-separated list of student, case, appointment)";
      return false;
    }
    bool duplicate = false;
    for (Entity seen : entities) duplicate = duplicate || seen == entity;
    if (!duplicate) entities.push_back(entity);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return true;
}

// Writes a file through one large buffer: rows are appended to `buffer` and flushed with a
// single fwrite each time it passes kFlushAt, so memory stays constant whatever the row count.
class BufferedFile {
 public:
  static constexpr size_t kFlushAt = 4 << 20;

  ~BufferedFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  bool Open(const std::filesystem::path& path) {
    file_ = std::fopen(path.c_str(), "wb");
    buffer_.reserve(kFlushAt + 4096);
    return file_ != nullptr;
  }
  std::string& buffer() { return buffer_; }
  bool MaybeFlush() { return buffer_.size() < kFlushAt || Flush(); }
  bool Flush() {
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) return false;
    bytes_ += buffer_.size();
    buffer_.clear();
    return true;
  }
  bool Close() {
    const bool ok = Flush() && std::fclose(file_) == 0;
    file_ = nullptr;
    return ok;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::FILE* file_ = nullptr;
  std::string buffer_;
  uint64_t bytes_ = 0;
};

}  // namespace

uint64_t SplitMix64::Next() {
  state_ += 0x9E3779B97F4A7C15ULL;
  return Mix64(state_);
}

uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

Date DateFromDays(int64_t z) {  // H. Hinnant's civil_from_days
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  Date date;
  date.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  date.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  date.year = static_cast<int>(static_cast<int64_t>(yoe) + era * 400 + (date.month <= 2));
  return date;
}

char FiscalCodeCheckCharacter(std::string_view first15) {
  // Values of digits and letters in odd (1st, 3rd, ...) positions; even positions count
  // 0-9 / A-Z as 0-25.
  static constexpr int kOdd[26] = {1,  0,  5, 7, 9, 13, 15, 17, 19, 21, 2,  4,  18,
                                   20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23};
  int sum = 0;
  for (size_t i = 0; i < first15.size() && i < 15; ++i) {
    const char c = first15[i];
    const int value = (c >= '0' && c <= '9') ? c - '0' : c - 'A';
    sum += i % 2 == 0 ? kOdd[value] : value;
  }
  return static_cast<char>('A' + sum % 26);
}

std::string FiscalCode(std::string_view surname, std::string_view name, Date birth, bool female,
                       std::string_view belfiore) {
  static constexpr char kMonths[] = "ABCDEHLMPRST";
  std::string code = NamePart(surname, false) + NamePart(name, true);
  Append2(code, birth.year % 100);
  code += kMonths[birth.month - 1];
  Append2(code, birth.day + (female ? 40 : 0));
  code.append(belfiore);
  code += FiscalCodeCheckCharacter(code);
  return code;
}

std::string_view FileName(Entity entity) {
  switch (entity) {
    case Entity::kStudent: return "allievi.csv";
    case Entity::kCase: return "pratiche.csv";
    case Entity::kAppointment: return "guide.csv";
  }
  return "";
}

bool IsChanged(uint64_t index, uint32_t basis_points) {
  // Row i is changed when the running total floor(i * bp / 10000) steps up at it.
  return (index + 1) * basis_points / 10000 > index * basis_points / 10000;
}

uint64_t RowCount(Entity entity, const Options& options) {
  switch (entity) {
    case Entity::kStudent: return options.students;
    case Entity::kCase: return options.students * options.cases_per_student;
    case Entity::kAppointment: return options.students * options.appointments_per_student;
  }
  return 0;
}

void AppendHeader(Entity entity, std::string& out) {
  switch (entity) {
    case Entity::kStudent:
      out.append(
          "id;cognome;nome;codice_fiscale;data_nascita;email;telefono;note;ultima_modifica\n");
      break;
    case Entity::kCase:
      out.append("id;id_allievo;categoria;stato;data_apertura;ultima_modifica\n");
      break;
    case Entity::kAppointment:
      out.append(
          "id;tipo;inizio;fine;id_allievo;id_pratica;id_istruttore;id_veicolo;stato;"
          "ultima_modifica\n");
      break;
  }
}

void AppendRow(Entity entity, const Options& options, uint64_t index, std::string& out) {
  switch (entity) {
    case Entity::kStudent: AppendStudent(options, index, out); break;
    case Entity::kCase: AppendCase(options, index, out); break;
    case Entity::kAppointment: AppendAppointment(options, index, out); break;
  }
}

std::string Usage() {
  return R"(Usage: reglo-datagen --out DIR --students N [options]

Writes a synthetic, deterministic export of one Italian driving school in the layout of
examples/autoscuola-rossi (';'-separated UTF-8 CSV, LF line ends, dd/mm/yyyy dates, Italian
status words), for benchmarks and tests:
  allievi.csv   students      N rows
  pratiche.csv  cases         N x K rows   (K = --cases-per-student)
  guide.csv     appointments  N x M rows   (M = --appointments-per-student)
Read them with tools/datagen/bench-hub.json (copy it into DIR; see tools/datagen/README.md).

Options:
  --out DIR                       Output folder; created if missing. Existing files are replaced.
  --students N                    Number of students (1 .. 100000000). Required.
  --seed S                        Seed of the pseudo-random generator (unsigned 64-bit,
                                  default 1). Same seed and options -> byte-identical files.
  --change-percent P              Change P % of the rows of every file (0 .. 100, up to two
                                  decimals, default 0). The output is the dataset of P = 0 with
                                  exactly floor(rows * P / 100) rows, spread evenly, carrying a
                                  real change of a canonical field (student: phone; case: status
                                  moves one step; appointment: status) and an ultima_modifica
                                  after every unchanged row's. For the "P % changed resync"
                                  benchmark: sync the P = 0 files, then these.
  --cases-per-student K           Cases (pratiche) per student (1 .. 100, default 1).
  --appointments-per-student M    Appointments (lessons and practical exams) per student
                                  (0 .. 1000, default 2). Each points at its student's first case.
  --entities LIST                 Comma-separated subset of student,case,appointment to write
                                  (default all three).
  -h, --help                      Show this help and exit.

Options take their value as the next argument or after '=' (--students=1000).
Exit status: 0 on success, 1 on an I/O error, 2 on a usage error.
)";
}

bool ParseOptions(int argc, const char* const* argv, Options& options, std::string& error) {
  bool have_out = false;
  bool have_students = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      options.help = true;
      return true;
    }
    std::string_view value;
    bool inline_value = false;
    if (const size_t eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inline_value = true;
    }
    auto take_value = [&]() -> bool {
      if (inline_value) return true;
      if (i + 1 >= argc) {
        error = std::string(arg) + ": missing value";
        return false;
      }
      value = argv[++i];
      return true;
    };
    uint64_t number = 0;
    if (arg == "--out") {
      if (!take_value()) return false;
      if (value.empty()) {
        error = "--out: empty path";
        return false;
      }
      options.out = std::filesystem::path(std::string(value));
      have_out = true;
    } else if (arg == "--students") {
      if (!take_value()) return false;
      if (!ParseUint(value, 100000000, number) || number == 0) {
        error = "--students: '" + std::string(value) + "' is not a whole number in 1 .. 100000000";
        return false;
      }
      options.students = number;
      have_students = true;
    } else if (arg == "--seed") {
      if (!take_value()) return false;
      if (!ParseUint(value, UINT64_MAX, number)) {
        error = "--seed: '" + std::string(value) + "' is not an unsigned 64-bit number";
        return false;
      }
      options.seed = number;
    } else if (arg == "--change-percent") {
      if (!take_value()) return false;
      if (!ParsePercent(value, options.change_basis_points)) {
        error = "--change-percent: '" + std::string(value) +
                "' is not a percentage in 0 .. 100 with at most two decimals";
        return false;
      }
    } else if (arg == "--cases-per-student") {
      if (!take_value()) return false;
      if (!ParseUint(value, 100, number) || number == 0) {
        error =
            "--cases-per-student: '" + std::string(value) + "' is not a whole number in 1 .. 100";
        return false;
      }
      options.cases_per_student = static_cast<uint32_t>(number);
    } else if (arg == "--appointments-per-student") {
      if (!take_value()) return false;
      if (!ParseUint(value, 1000, number)) {
        error = "--appointments-per-student: '" + std::string(value) +
                "' is not a whole number in 0 .. 1000";
        return false;
      }
      options.appointments_per_student = static_cast<uint32_t>(number);
    } else if (arg == "--entities") {
      if (!take_value()) return false;
      if (!ParseEntities(value, options.entities, error)) return false;
    } else {
      error = "unknown option '" + std::string(argv[i]) + "'";
      return false;
    }
  }
  if (!have_out) {
    error = "--out DIR is required";
    return false;
  }
  if (!have_students) {
    error = "--students N is required";
    return false;
  }
  return true;
}

bool Generate(const Options& options, std::vector<FileSummary>& summary, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(options.out, ec);
  if (ec) {
    error = "cannot create " + options.out.string() + ": " + ec.message();
    return false;
  }
  for (Entity entity : options.entities) {
    FileSummary file{entity, options.out / FileName(entity)};
    const std::filesystem::path partial = file.path.string() + ".partial";
    BufferedFile out;
    if (!out.Open(partial)) {
      error = "cannot open " + partial.string() + " for writing";
      return false;
    }
    AppendHeader(entity, out.buffer());
    file.rows = RowCount(entity, options);
    for (uint64_t i = 0; i < file.rows; ++i) {
      AppendRow(entity, options, i, out.buffer());
      if (IsChanged(i, options.change_basis_points)) ++file.changed;
      if (!out.MaybeFlush()) {
        error = "write error on " + partial.string();
        return false;
      }
    }
    if (!out.Close()) {
      error = "write error on " + partial.string();
      return false;
    }
    file.bytes = out.bytes();
    std::filesystem::rename(partial, file.path, ec);
    if (ec) {
      error = "cannot rename " + partial.string() + ": " + ec.message();
      return false;
    }
    summary.push_back(file);
  }
  return true;
}

}  // namespace reglo::datagen
