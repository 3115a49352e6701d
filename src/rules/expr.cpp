// The expression language (see expr.h): a lexer and a recursive-descent parser build a small
// syntax tree, which is printed once as the canonical text and flattened into a postfix program
// with jumps for ?:, && and ||; evaluate() runs that program over a fixed array on its own stack.
#include "rules/expr.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>

namespace sluice::rules {
namespace {

// The program's operations. Binary operators pop two values and push one; functions pop their
// arguments (Instruction::a of them for min and max) and push one.
enum Op : uint8_t {
  kConstant,  // push constant
  kLoad,      // push slots[a]
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kNeg,
  kNot,
  kAndJump,  // top NaN: jump to a; top 0: jump to a (leaving 0); else pop
  kOrJump,   // top NaN: jump to a; top not 0: jump to a (leaving 1); else pop
  kToBool,   // top: 1 if not 0, NaN stays NaN
  kBranch,   // pop c; NaN: push NaN, jump to b; 0: jump to a
  kJump,     // jump to a
  kAbs,
  kSqrt,
  kExp,
  kLog,
  kLog10,
  kSin,
  kCos,
  kTan,
  kAsin,
  kAcos,
  kAtan,
  kFloor,
  kCeil,
  kRound,
  kSign,
  kIsnan,
  kAtan2,
  kHypot,
  kClamp,
  kMin,
  kMax,
};

struct Function {
  std::string_view name;
  Op op;
  uint32_t min_args;
  uint32_t max_args;
};

constexpr uint32_t kVariadic = kMaxArguments;
constexpr Function kFunctions[] = {
    {"abs", kAbs, 1, 1},     {"min", kMin, 1, kVariadic}, {"max", kMax, 1, kVariadic},
    {"sqrt", kSqrt, 1, 1},   {"pow", kPow, 2, 2},         {"exp", kExp, 1, 1},
    {"log", kLog, 1, 1},     {"log10", kLog10, 1, 1},     {"sin", kSin, 1, 1},
    {"cos", kCos, 1, 1},     {"tan", kTan, 1, 1},         {"asin", kAsin, 1, 1},
    {"acos", kAcos, 1, 1},   {"atan", kAtan, 1, 1},       {"atan2", kAtan2, 2, 2},
    {"floor", kFloor, 1, 1}, {"ceil", kCeil, 1, 1},       {"round", kRound, 1, 1},
    {"clamp", kClamp, 3, 3}, {"sign", kSign, 1, 1},       {"hypot", kHypot, 2, 2},
    {"isnan", kIsnan, 1, 1},
};

const Function* find_function(std::string_view name) {
  for (const Function& f : kFunctions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// Levenshtein distance, case-insensitive, for "did you mean".
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::optional<std::string_view> suggest_function(std::string_view name) {
  std::optional<std::string_view> best;
  size_t best_distance = 3;  // suggest only within two edits
  for (const Function& f : kFunctions) {
    const size_t d = edit_distance(name, f.name);
    if (d < best_distance && d < f.name.size()) {
      best = f.name;
      best_distance = d;
    }
  }
  return best;
}

std::string_view op_symbol(Op op) {
  switch (op) {
    case kAdd: return "+";
    case kSub: return "-";
    case kMul: return "*";
    case kDiv: return "/";
    case kMod: return "%";
    case kPow: return "^";
    case kLt: return "<";
    case kLe: return "<=";
    case kGt: return ">";
    case kGe: return ">=";
    case kEq: return "==";
    case kNe: return "!=";
    case kNeg: return "-";
    case kNot: return "!";
    case kAndJump: return "&&";
    case kOrJump: return "||";
    default: return "?";
  }
}

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_keyword(std::string_view word) {
  return word == "true" || word == "false" || word == "and" || word == "or" || word == "not";
}

// Whether `name` can be written without quotes: a word, optionally followed by .segments.
bool is_plain_name(std::string_view name) {
  if (name.empty() || !is_name_start(name[0]) || is_keyword(name)) return false;
  bool after_dot = false;
  for (char c : name.substr(1)) {
    if (c == '.') {
      if (after_dot) return false;
      after_dot = true;
    } else if (is_name_char(c)) {
      after_dot = false;
    } else {
      return false;
    }
  }
  return !after_dot;
}

std::string quote_name(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string format_number(double v) {
  std::array<char, 64> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v);
  return ec == std::errc{} ? std::string(buffer.data(), end) : fmt::format("{:.17g}", v);
}

// A character for an error: quoted when printable, as a byte value when not.
std::string describe_char(char c) {
  if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
    return fmt::format("byte 0x{:02x}", static_cast<unsigned char>(c));
  }
  return fmt::format("'{}'", c);
}

enum class Tok {
  kEnd,
  kNumber,
  kName,
  kQuotedName,
  kTrue,
  kFalse,
  kLParen,
  kRParen,
  kComma,
  kQuestion,
  kColon,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kCaret,
  kNot,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kAnd,
  kOr,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t column = 0;      // 1-based
  std::string_view text;  // as written
  double number = 0;      // kNumber
  std::string name;       // kName, kQuotedName (unescaped)
};

struct Node {
  enum class Kind { kNumber, kBool, kName, kUnary, kBinary, kTernary, kCall };
  Kind kind = Kind::kNumber;
  Op op = kConstant;
  double value = 0;
  uint32_t name = 0;  // index into Compiler::names_
  std::string_view function;
  std::vector<std::unique_ptr<Node>> kids;
  size_t column = 0;
  size_t depth = 1;
};

using NodePtr = std::unique_ptr<Node>;

}  // namespace

class Compiler {
 public:
  Compiler(std::string_view text, const Resolver& resolve) : text_(text), resolve_(resolve) {}

  Result<Expression> run(size_t* error_column) {
    Result<Expression> result = compile();
    if (error_column != nullptr) *error_column = result.ok() ? 0 : error_column_;
    return result;
  }

 private:
  struct Name {
    std::string text;
    uint32_t slot;
  };

  Result<Expression> compile() {
    if (text_.size() > kMaxTextBytes) {
      return invalid_argument(fmt::format("expression is {} bytes long; at most {} are allowed",
                                          text_.size(), kMaxTextBytes));
    }
    if (!advance()) return error_;
    if (token_.kind == Tok::kEnd) return fail(1, "empty expression");
    NodePtr root = parse_ternary();
    if (root == nullptr) return error_;
    if (token_.kind != Tok::kEnd) return fail(token_.column, unexpected(token_));

    Expression e;
    print(*root, e.canonical_);
    emit(*root, e.program_);
    if (e.program_.size() > kMaxInstructions) {
      return invalid_argument(fmt::format(
          "expression is too large: it compiles to more than {} operations", kMaxInstructions));
    }
    if (max_stack_ > kMaxStack) {
      return invalid_argument(fmt::format(
          "expression is too large: it needs more than {} values at once (fewer function "
          "arguments or less nesting)",
          kMaxStack));
    }
    e.stack_size_ = max_stack_;
    std::vector<size_t> order(names_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [this](size_t x, size_t y) { return names_[x].slot < names_[y].slot; });
    for (size_t i : order) {
      e.names_.push_back(names_[i].text);
      e.slots_.push_back(names_[i].slot);
      e.slot_count_ = std::max<size_t>(e.slot_count_, size_t{names_[i].slot} + 1);
    }
    return e;
  }

  // --- errors --------------------------------------------------------------------------------

  Status fail(size_t column, std::string what) {
    if (error_.ok()) {
      error_column_ = column;
      error_ = invalid_argument(std::move(what));
    }
    return error_;
  }
  std::nullptr_t fail_node(size_t column, std::string what) {
    (void)fail(column, std::move(what));
    return nullptr;
  }
  bool lex_error(size_t column, std::string what) {
    (void)fail(column, std::move(what));
    return false;
  }
  static std::string at(size_t column) { return fmt::format(" at column {}", column); }

  std::string unexpected(const Token& t) const {
    if (t.kind == Tok::kEnd) return "unexpected end of expression" + at(t.column);
    return fmt::format("unexpected '{}'{}", t.text, at(t.column));
  }

  // --- lexer ---------------------------------------------------------------------------------

  // Reads the next token into token_; false (with error_ set) on a malformed one.
  bool advance() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\n')) {
      ++pos_;
    }
    token_ = Token{};
    token_.column = pos_ + 1;
    if (pos_ >= text_.size()) return true;
    const size_t start = pos_;
    const char c = text_[pos_];
    const char next = pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0';
    auto single = [&](Tok kind, size_t length) {
      token_.kind = kind;
      pos_ += length;
      token_.text = text_.substr(start, length);
      return true;
    };
    if (is_digit(c) || (c == '.' && is_digit(next))) return lex_number();
    if (is_name_start(c)) return lex_name();
    switch (c) {
      case '"': return lex_quoted_name();
      case '(': return single(Tok::kLParen, 1);
      case ')': return single(Tok::kRParen, 1);
      case ',': return single(Tok::kComma, 1);
      case '?': return single(Tok::kQuestion, 1);
      case ':': return single(Tok::kColon, 1);
      case '+': return single(Tok::kPlus, 1);
      case '-': return single(Tok::kMinus, 1);
      case '*': return single(Tok::kStar, 1);
      case '/': return single(Tok::kSlash, 1);
      case '%': return single(Tok::kPercent, 1);
      case '^': return single(Tok::kCaret, 1);
      case '!': return next == '=' ? single(Tok::kNe, 2) : single(Tok::kNot, 1);
      case '<': return next == '=' ? single(Tok::kLe, 2) : single(Tok::kLt, 1);
      case '>': return next == '=' ? single(Tok::kGe, 2) : single(Tok::kGt, 1);
      case '=':
        if (next == '=') return single(Tok::kEq, 2);
        return lex_error(token_.column,
                         "unexpected '='" + at(token_.column) + " (did you mean '=='?)");
      case '&':
        if (next == '&') return single(Tok::kAnd, 2);
        return lex_error(token_.column,
                         "unexpected '&'" + at(token_.column) + " (did you mean '&&'?)");
      case '|':
        if (next == '|') return single(Tok::kOr, 2);
        return lex_error(token_.column,
                         "unexpected '|'" + at(token_.column) + " (did you mean '||'?)");
      default:
        return lex_error(token_.column, fmt::format("unexpected character {}{}", describe_char(c),
                                                    at(token_.column)));
    }
  }

  bool lex_number() {
    const size_t start = pos_;
    auto digits = [&] {
      while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
    };
    digits();
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      digits();
    }
    bool malformed = false;
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (pos_ >= text_.size() || !is_digit(text_[pos_])) malformed = true;
      digits();
    }
    // "2x", "1.2.3": a number runs into a name or another dot.
    while (pos_ < text_.size() && (is_name_char(text_[pos_]) || text_[pos_] == '.')) {
      malformed = true;
      ++pos_;
    }
    const std::string_view written = text_.substr(start, pos_ - start);
    if (malformed) {
      return lex_error(start + 1, fmt::format("malformed number '{}'{}", written, at(start + 1)));
    }
    double value = 0;
    const auto [end, ec] = std::from_chars(written.data(), written.data() + written.size(), value);
    if (ec == std::errc::result_out_of_range) {
      return lex_error(start + 1,
                       fmt::format("number '{}' is out of range{}", written, at(start + 1)));
    }
    if (ec != std::errc{} || end != written.data() + written.size()) {
      return lex_error(start + 1, fmt::format("malformed number '{}'{}", written, at(start + 1)));
    }
    token_.kind = Tok::kNumber;
    token_.text = written;
    token_.number = value;
    return true;
  }

  bool lex_name() {
    const size_t start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    while (pos_ + 1 < text_.size() && text_[pos_] == '.' && is_name_char(text_[pos_ + 1])) {
      ++pos_;
      while (pos_ < text_.size() && is_name_char(text_[pos_])) ++pos_;
    }
    token_.text = text_.substr(start, pos_ - start);
    if (token_.text == "true") {
      token_.kind = Tok::kTrue;
    } else if (token_.text == "false") {
      token_.kind = Tok::kFalse;
    } else if (token_.text == "and") {
      token_.kind = Tok::kAnd;
    } else if (token_.text == "or") {
      token_.kind = Tok::kOr;
    } else if (token_.text == "not") {
      token_.kind = Tok::kNot;
    } else {
      token_.kind = Tok::kName;
      token_.name = std::string(token_.text);
    }
    return true;
  }

  bool lex_quoted_name() {
    const size_t start = pos_;
    ++pos_;  // the opening quote
    std::string name;
    while (true) {
      if (pos_ >= text_.size()) {
        return lex_error(start + 1, "unterminated quoted name" + at(start + 1) + " (missing '\"')");
      }
      const char c = text_[pos_];
      if (c == '"') break;
      if (c == '\\') {
        if (pos_ + 1 >= text_.size()) {
          return lex_error(start + 1,
                           "unterminated quoted name" + at(start + 1) + " (missing '\"')");
        }
        const char escaped = text_[pos_ + 1];
        if (escaped != '"' && escaped != '\\') {
          return lex_error(pos_ + 1,
                           fmt::format("unknown escape '\\{}' in a quoted name{} (only \\\" "
                                       "and \\\\ are escapes)",
                                       escaped, at(pos_ + 1)));
        }
        name.push_back(escaped);
        pos_ += 2;
        continue;
      }
      name.push_back(c);
      ++pos_;
    }
    ++pos_;  // the closing quote
    if (name.empty()) return lex_error(start + 1, "empty quoted name" + at(start + 1));
    token_.kind = Tok::kQuotedName;
    token_.text = text_.substr(start, pos_ - start);
    token_.name = std::move(name);
    return true;
  }

  // --- parser --------------------------------------------------------------------------------

  // Nesting is measured three ways, each refused with the same message: the depth of the tree
  // (kMaxDepth, checked as nodes are made), parentheses open at once (kMaxDepth), and the
  // parser's own recursion (kMaxRecursion, which bounds the stack before a tree exists). The
  // canonical text of any accepted tree stays within all three.
  static constexpr size_t kMaxRecursion = 4 * kMaxDepth;

  class Nesting {
   public:
    explicit Nesting(size_t& counter) : counter_(counter) { ++counter_; }
    ~Nesting() { --counter_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;

   private:
    size_t& counter_;
  };

  std::string too_deep(size_t column) const {
    return fmt::format("expression nested deeper than {} levels{}", kMaxDepth, at(column));
  }

  NodePtr make(Node::Kind kind, Op op, size_t column, std::vector<NodePtr> kids) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->op = op;
    n->column = column;
    for (const NodePtr& k : kids) n->depth = std::max(n->depth, k->depth + 1);
    n->kids = std::move(kids);
    if (n->depth > kMaxDepth) return fail_node(column, too_deep(column));
    return n;
  }

  NodePtr make_binary(Op op, size_t column, NodePtr left, NodePtr right) {
    std::vector<NodePtr> kids;
    kids.push_back(std::move(left));
    kids.push_back(std::move(right));
    return make(Node::Kind::kBinary, op, column, std::move(kids));
  }

  NodePtr parse_ternary() {
    Nesting recursion(depth_);
    if (depth_ > kMaxRecursion) return fail_node(token_.column, too_deep(token_.column));
    NodePtr condition = parse_or();
    if (condition == nullptr || token_.kind != Tok::kQuestion) return condition;
    const size_t column = token_.column;
    if (!advance()) return nullptr;
    NodePtr then = parse_ternary();
    if (then == nullptr) return nullptr;
    if (token_.kind != Tok::kColon) {
      if (token_.kind == Tok::kEnd)
        return fail_node(token_.column, "expected ':'" + at(token_.column));
      return fail_node(token_.column, fmt::format("expected ':' at column {}, found '{}'",
                                                  token_.column, token_.text));
    }
    if (!advance()) return nullptr;
    NodePtr otherwise = parse_ternary();
    if (otherwise == nullptr) return nullptr;
    std::vector<NodePtr> kids;
    kids.push_back(std::move(condition));
    kids.push_back(std::move(then));
    kids.push_back(std::move(otherwise));
    return make(Node::Kind::kTernary, kBranch, column, std::move(kids));
  }

  // One level of left-associative binary operators: `next` parses the operands, `op_of` maps
  // a token to its operation (or nullopt when the token ends the chain).
  template <typename Next, typename OpOf>
  NodePtr parse_left(Next next, OpOf op_of) {
    NodePtr left = (this->*next)();
    while (left != nullptr) {
      const std::optional<Op> op = op_of(token_.kind);
      if (!op) break;
      const size_t column = token_.column;
      if (!advance()) return nullptr;
      NodePtr right = (this->*next)();
      if (right == nullptr) return nullptr;
      left = make_binary(*op, column, std::move(left), std::move(right));
    }
    return left;
  }

  NodePtr parse_or() {
    return parse_left(&Compiler::parse_and,
                      [](Tok t) { return t == Tok::kOr ? std::optional(kOrJump) : std::nullopt; });
  }
  NodePtr parse_and() {
    return parse_left(&Compiler::parse_equality, [](Tok t) {
      return t == Tok::kAnd ? std::optional(kAndJump) : std::nullopt;
    });
  }
  NodePtr parse_equality() {
    return parse_left(&Compiler::parse_comparison, [](Tok t) -> std::optional<Op> {
      if (t == Tok::kEq) return kEq;
      if (t == Tok::kNe) return kNe;
      return std::nullopt;
    });
  }
  NodePtr parse_comparison() {
    return parse_left(&Compiler::parse_additive, [](Tok t) -> std::optional<Op> {
      switch (t) {
        case Tok::kLt: return kLt;
        case Tok::kLe: return kLe;
        case Tok::kGt: return kGt;
        case Tok::kGe: return kGe;
        default: return std::nullopt;
      }
    });
  }
  NodePtr parse_additive() {
    return parse_left(&Compiler::parse_multiplicative, [](Tok t) -> std::optional<Op> {
      if (t == Tok::kPlus) return kAdd;
      if (t == Tok::kMinus) return kSub;
      return std::nullopt;
    });
  }
  NodePtr parse_multiplicative() {
    return parse_left(&Compiler::parse_unary, [](Tok t) -> std::optional<Op> {
      switch (t) {
        case Tok::kStar: return kMul;
        case Tok::kSlash: return kDiv;
        case Tok::kPercent: return kMod;
        default: return std::nullopt;
      }
    });
  }

  NodePtr parse_unary() {
    if (token_.kind != Tok::kMinus && token_.kind != Tok::kNot) return parse_power();
    Nesting recursion(depth_);
    const size_t column = token_.column;
    if (depth_ > kMaxRecursion) return fail_node(column, too_deep(column));
    const Op op = token_.kind == Tok::kMinus ? kNeg : kNot;
    if (!advance()) return nullptr;
    NodePtr operand = parse_unary();
    if (operand == nullptr) return nullptr;
    std::vector<NodePtr> kids;
    kids.push_back(std::move(operand));
    return make(Node::Kind::kUnary, op, column, std::move(kids));
  }

  NodePtr parse_power() {
    NodePtr base = parse_primary();
    if (base == nullptr || token_.kind != Tok::kCaret) return base;
    Nesting recursion(depth_);
    const size_t column = token_.column;
    if (depth_ > kMaxRecursion) return fail_node(column, too_deep(column));
    if (!advance()) return nullptr;
    NodePtr exponent = parse_unary();  // right-associative; 2^-1 is allowed
    if (exponent == nullptr) return nullptr;
    return make_binary(kPow, column, std::move(base), std::move(exponent));
  }

  NodePtr parse_primary() {
    const size_t column = token_.column;
    switch (token_.kind) {
      case Tok::kNumber:
      case Tok::kTrue:
      case Tok::kFalse: {
        NodePtr n = make(token_.kind == Tok::kNumber ? Node::Kind::kNumber : Node::Kind::kBool,
                         kConstant, column, {});
        n->value =
            token_.kind == Tok::kNumber ? token_.number : (token_.kind == Tok::kTrue ? 1 : 0);
        if (!advance()) return nullptr;
        return n;
      }
      case Tok::kName: {
        std::string name = std::move(token_.name);
        if (!advance()) return nullptr;
        if (token_.kind == Tok::kLParen) return parse_call(name, column);
        return name_node(name, column);
      }
      case Tok::kQuotedName: {
        std::string name = std::move(token_.name);
        if (!advance()) return nullptr;
        return name_node(name, column);
      }
      case Tok::kLParen: {
        Nesting parentheses(parentheses_);
        if (parentheses_ > kMaxDepth) return fail_node(column, too_deep(column));
        if (!advance()) return nullptr;
        NodePtr inner = parse_ternary();
        if (inner == nullptr) return nullptr;
        if (token_.kind != Tok::kRParen) return fail_node(token_.column, expected_paren());
        if (!advance()) return nullptr;
        return inner;
      }
      default: return fail_node(column, unexpected(token_));
    }
  }

  std::string expected_paren() const {
    if (token_.kind == Tok::kEnd) return "expected ')'" + at(token_.column);
    return fmt::format("expected ')' at column {}, found '{}'", token_.column, token_.text);
  }

  NodePtr name_node(const std::string& name, size_t column) {
    auto found = name_index_.find(name);
    uint32_t index = 0;
    if (found != name_index_.end()) {
      index = found->second;
    } else {
      Result<uint32_t> slot = resolve_(name);
      if (!slot.ok()) {
        return fail_node(
            column, fmt::format("datapoint '{}'{}: {}", name, at(column), slot.status().message()));
      }
      index = static_cast<uint32_t>(names_.size());
      names_.push_back(Name{name, *slot});
      name_index_.emplace(name, index);
    }
    NodePtr n = make(Node::Kind::kName, kLoad, column, {});
    n->name = index;
    return n;
  }

  NodePtr parse_call(const std::string& name, size_t column) {
    const Function* f = find_function(name);
    if (f == nullptr) {
      std::string what = fmt::format("unknown function '{}'{}", name, at(column));
      if (const auto hint = suggest_function(name))
        what += fmt::format(" (did you mean '{}'?)", *hint);
      return fail_node(column, std::move(what));
    }
    Nesting recursion(depth_);
    Nesting parentheses(parentheses_);
    if (depth_ > kMaxRecursion || parentheses_ > kMaxDepth) {
      return fail_node(token_.column, too_deep(token_.column));
    }
    if (!advance()) return nullptr;  // the '('
    std::vector<NodePtr> args;
    if (token_.kind == Tok::kRParen) {
      if (!advance()) return nullptr;
    } else {
      while (true) {
        if (args.size() == kMaxArguments) {
          return fail_node(token_.column, fmt::format("too many arguments to '{}' (at most {}){}",
                                                      f->name, kMaxArguments, at(token_.column)));
        }
        NodePtr arg = parse_ternary();
        if (arg == nullptr) return nullptr;
        args.push_back(std::move(arg));
        if (token_.kind == Tok::kComma) {
          if (!advance()) return nullptr;
          continue;
        }
        if (token_.kind == Tok::kRParen) {
          if (!advance()) return nullptr;
          break;
        }
        if (token_.kind == Tok::kEnd)
          return fail_node(token_.column, "expected ')'" + at(token_.column));
        return fail_node(token_.column, fmt::format("expected ',' or ')' at column {}, found '{}'",
                                                    token_.column, token_.text));
      }
    }
    if (args.size() < f->min_args || args.size() > f->max_args) {
      std::string what;
      if (f->max_args == kVariadic) {
        what = fmt::format("'{}' needs at least {} argument{}", f->name, f->min_args,
                           f->min_args == 1 ? "" : "s");
      } else {
        what = fmt::format("'{}' needs {} argument{}, got {}", f->name, f->min_args,
                           f->min_args == 1 ? "" : "s", args.size());
      }
      return fail_node(column, what + at(column));
    }
    NodePtr n = make(Node::Kind::kCall, f->op, column, std::move(args));
    if (n != nullptr) n->function = f->name;
    return n;
  }

  // --- output --------------------------------------------------------------------------------

  void print(const Node& n, std::string& out) const {
    switch (n.kind) {
      case Node::Kind::kNumber: out += format_number(n.value); return;
      case Node::Kind::kBool: out += n.value != 0 ? "true" : "false"; return;
      case Node::Kind::kName: {
        const std::string& name = names_[n.name].text;
        out += is_plain_name(name) ? name : quote_name(name);
        return;
      }
      case Node::Kind::kUnary:
        out += '(';
        out += op_symbol(n.op);
        print(*n.kids[0], out);
        out += ')';
        return;
      case Node::Kind::kBinary:
        out += '(';
        print(*n.kids[0], out);
        out += ' ';
        out += op_symbol(n.op);
        out += ' ';
        print(*n.kids[1], out);
        out += ')';
        return;
      case Node::Kind::kTernary:
        out += '(';
        print(*n.kids[0], out);
        out += " ? ";
        print(*n.kids[1], out);
        out += " : ";
        print(*n.kids[2], out);
        out += ')';
        return;
      case Node::Kind::kCall:
        out += n.function;
        out += '(';
        for (size_t i = 0; i < n.kids.size(); ++i) {
          if (i > 0) out += ", ";
          print(*n.kids[i], out);
        }
        out += ')';
        return;
    }
  }

  void push(size_t count = 1) {
    stack_ += count;
    max_stack_ = std::max(max_stack_, stack_);
  }

  size_t add(std::vector<Expression::Instruction>& program, Op op, uint32_t a = 0) {
    Expression::Instruction in;
    in.op = op;
    in.a = a;
    program.push_back(in);
    return program.size() - 1;
  }

  static uint32_t here(const std::vector<Expression::Instruction>& program) {
    return static_cast<uint32_t>(program.size());
  }

  void emit(const Node& n, std::vector<Expression::Instruction>& program) {
    switch (n.kind) {
      case Node::Kind::kNumber:
      case Node::Kind::kBool:
        program[add(program, kConstant)].constant = n.value;
        push();
        return;
      case Node::Kind::kName:
        add(program, kLoad, names_[n.name].slot);
        push();
        return;
      case Node::Kind::kUnary:
        emit(*n.kids[0], program);
        add(program, n.op);
        return;
      case Node::Kind::kBinary:
        emit(*n.kids[0], program);
        if (n.op == kAndJump || n.op == kOrJump) {
          const size_t jump = add(program, n.op);
          --stack_;  // popped when it falls through
          emit(*n.kids[1], program);
          add(program, kToBool);
          program[jump].a = here(program);
          return;
        }
        emit(*n.kids[1], program);
        add(program, n.op);
        --stack_;
        return;
      case Node::Kind::kTernary: {
        emit(*n.kids[0], program);
        const size_t branch = add(program, kBranch);
        --stack_;
        emit(*n.kids[1], program);
        const size_t jump = add(program, kJump);
        --stack_;  // the other branch starts from the same height
        program[branch].a = here(program);
        emit(*n.kids[2], program);
        program[jump].a = here(program);
        program[branch].b = here(program);
        return;
      }
      case Node::Kind::kCall:
        for (const NodePtr& k : n.kids) emit(*k, program);
        add(program, n.op, static_cast<uint32_t>(n.kids.size()));
        stack_ -= n.kids.size() - 1;
        return;
    }
  }

  std::string_view text_;
  const Resolver& resolve_;
  size_t pos_ = 0;
  Token token_;
  size_t depth_ = 0;        // parser recursion
  size_t parentheses_ = 0;  // open at once
  std::vector<Name> names_;
  std::unordered_map<std::string, uint32_t> name_index_;
  size_t stack_ = 0;
  size_t max_stack_ = 0;
  Status error_;
  size_t error_column_ = 0;
};

Result<Expression> Expression::compile(std::string_view text, const Resolver& resolve,
                                       size_t* error_column) {
  Compiler compiler(text, resolve);
  return compiler.run(error_column);
}

Result<Expression> Expression::compile(std::string_view text, size_t* error_column) {
  uint32_t next = 0;
  const Resolver in_order = [&next](std::string_view) -> Result<uint32_t> { return next++; };
  return compile(text, in_order, error_column);
}

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
double truth(bool b) { return b ? 1.0 : 0.0; }
}  // namespace

double Expression::evaluate(std::span<const double> slots) const noexcept {
  if (program_.empty() || slots.size() < slot_count_) return kNaN;
  std::array<double, kMaxStack> stack;  // NOLINT(cppcoreguidelines-pro-type-member-init)
  size_t sp = 0;                        // the next free entry
  const Instruction* code = program_.data();
  const size_t size = program_.size();
  size_t pc = 0;
  while (pc < size) {
    const Instruction& in = code[pc++];
    double* const top = stack.data() + sp;  // top[-1] is the last value pushed
    switch (static_cast<Op>(in.op)) {
      case kConstant: stack[sp++] = in.constant; break;
      case kLoad: stack[sp++] = slots[in.a]; break;
      case kAdd:
        top[-2] += top[-1];
        --sp;
        break;
      case kSub:
        top[-2] -= top[-1];
        --sp;
        break;
      case kMul:
        top[-2] *= top[-1];
        --sp;
        break;
      case kDiv:
        top[-2] /= top[-1];
        --sp;
        break;
      case kMod:
        top[-2] = std::fmod(top[-2], top[-1]);
        --sp;
        break;
      case kPow:
        top[-2] = std::pow(top[-2], top[-1]);
        --sp;
        break;
      case kLt:
        top[-2] = truth(top[-2] < top[-1]);
        --sp;
        break;
      case kLe:
        top[-2] = truth(top[-2] <= top[-1]);
        --sp;
        break;
      case kGt:
        top[-2] = truth(top[-2] > top[-1]);
        --sp;
        break;
      case kGe:
        top[-2] = truth(top[-2] >= top[-1]);
        --sp;
        break;
      case kEq:
        top[-2] = truth(top[-2] == top[-1]);
        --sp;
        break;
      case kNe:
        top[-2] = truth(top[-2] != top[-1]);
        --sp;
        break;
      case kNeg: top[-1] = -top[-1]; break;
      case kNot:
        if (!std::isnan(top[-1])) top[-1] = truth(top[-1] == 0);
        break;
      case kAndJump:
        if (std::isnan(top[-1])) {
          pc = in.a;
        } else if (top[-1] == 0) {
          top[-1] = 0;
          pc = in.a;
        } else {
          --sp;
        }
        break;
      case kOrJump:
        if (std::isnan(top[-1])) {
          pc = in.a;
        } else if (top[-1] != 0) {
          top[-1] = 1;
          pc = in.a;
        } else {
          --sp;
        }
        break;
      case kToBool:
        if (!std::isnan(top[-1])) top[-1] = truth(top[-1] != 0);
        break;
      case kBranch:
        if (std::isnan(top[-1])) {
          pc = in.b;  // the NaN stays as the result
        } else {
          if (top[-1] == 0) pc = in.a;
          --sp;
        }
        break;
      case kJump: pc = in.a; break;
      case kAbs: top[-1] = std::fabs(top[-1]); break;
      case kSqrt: top[-1] = std::sqrt(top[-1]); break;
      case kExp: top[-1] = std::exp(top[-1]); break;
      case kLog: top[-1] = std::log(top[-1]); break;
      case kLog10: top[-1] = std::log10(top[-1]); break;
      case kSin: top[-1] = std::sin(top[-1]); break;
      case kCos: top[-1] = std::cos(top[-1]); break;
      case kTan: top[-1] = std::tan(top[-1]); break;
      case kAsin: top[-1] = std::asin(top[-1]); break;
      case kAcos: top[-1] = std::acos(top[-1]); break;
      case kAtan: top[-1] = std::atan(top[-1]); break;
      case kFloor: top[-1] = std::floor(top[-1]); break;
      case kCeil: top[-1] = std::ceil(top[-1]); break;
      case kRound: top[-1] = std::round(top[-1]); break;
      case kSign:
        if (top[-1] > 0) {
          top[-1] = 1;
        } else if (top[-1] < 0) {
          top[-1] = -1;
        }
        break;  // 0, -0 and NaN stay
      case kIsnan: top[-1] = truth(std::isnan(top[-1])); break;
      case kAtan2:
        top[-2] = std::atan2(top[-2], top[-1]);
        --sp;
        break;
      case kHypot:
        top[-2] = std::hypot(top[-2], top[-1]);
        --sp;
        break;
      case kClamp: {
        const double x = top[-3];
        const double lo = top[-2];
        const double hi = top[-1];
        double r = x;
        if (std::isnan(x) || std::isnan(lo) || std::isnan(hi)) {
          r = kNaN;
        } else if (x < lo) {
          r = lo;
        } else if (x > hi) {
          r = hi;
        }
        top[-3] = r;
        sp -= 2;
        break;
      }
      case kMin:
      case kMax: {
        double* first = top - in.a;
        double r = first[0];
        for (uint32_t i = 0; i < in.a; ++i) {
          const double v = first[i];
          if (std::isnan(v)) {
            r = kNaN;
            break;
          }
          r = in.op == kMin ? std::min(r, v) : std::max(r, v);
        }
        first[0] = r;
        sp -= in.a - 1;
        break;
      }
    }
  }
  return stack[0];
}

bool Expression::is_true(std::span<const double> slots) const noexcept {
  const double v = evaluate(slots);
  return !std::isnan(v) && v != 0;
}

std::string caret_line(std::string_view text, size_t column) {
  std::string out;
  out.reserve(text.size() * 2 + 2);
  for (char c : text) out.push_back(c == '\t' || c == '\n' || c == '\r' ? ' ' : c);
  out.push_back('\n');
  const size_t bytes = std::min(column == 0 ? 0 : column - 1, text.size());
  for (size_t i = 0; i < bytes; ++i) {
    // Continuation bytes of UTF-8 take no place of their own.
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) out.push_back(' ');
  }
  out.push_back('^');
  return out;
}

}  // namespace sluice::rules
