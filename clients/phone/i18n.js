// The app's own words, Vietnamese first. Form labels come from the server's definitions; the
// server's reasons for refusing a form come in the language the app asks for
// (Accept-Language), so the volunteer reads them in Vietnamese too.

const WORDS = {
  vi: {
    app: "Gõ cửa từng nhà",
    enrolTitle: "Đăng ký điện thoại",
    enrolHelp: "Nhập mã do trưởng nhóm cấp, hoặc quét mã QR bằng camera.",
    code: "Mã đăng ký",
    phoneName: "Tên điện thoại",
    phoneNameDefault: "Điện thoại của tôi",
    enrol: "Đăng ký",
    enrolling: "Đang đăng ký…",
    enrolled: "Đã đăng ký. Đang tải biểu mẫu và danh sách hộ…",
    alreadyEnrolled: "Điện thoại này đã đăng ký; mã trong đường dẫn không được dùng.",
    enrolRefused: "Mã không đúng, đã dùng hoặc đã hết hạn. Xin trưởng nhóm mã mới.",
    enrolOffline: "Không có mạng. Cần có mạng một lần để đăng ký.",
    revoked: "Điện thoại này đã bị thu hồi hoặc hết hạn. Xin trưởng nhóm mã mới và đăng ký " +
      "lại: các biểu mẫu chưa gửi vẫn được giữ và sẽ được gửi đi.",
    online: "Có mạng",
    offline: "Không có mạng — vẫn ghi được, sẽ gửi sau",
    unsent: "Chưa gửi: {n}",
    receipt: "Máy chủ đã có {n} trong {m} biểu mẫu bạn đã gửi",
    noReceipt: "Chưa có biên nhận từ máy chủ",
    lastSync: "Gửi lần cuối: {t}",
    sendNow: "Gửi ngay",
    sending: "Đang gửi…",
    sentOk: "Đã gửi xong",
    resent: "Máy chủ bị mất {n} biểu mẫu bạn đã gửi; đã gửi lại.",
    sendFailed: "Chưa gửi được: {reason}",
    busy: "Máy chủ đang bận, sẽ thử lại sau.",
    record: "Ghi biểu mẫu",
    search: "Tra cứu hộ",
    drafts: "Đang nhập dở",
    outbox: "Chờ gửi",
    sentList: "Đã gửi",
    nothing: "Chưa có gì.",
    resume: "Tiếp tục",
    save: "Lưu",
    saved: "Đã lưu vào điện thoại",
    cancel: "Đóng",
    discardDraft: "Bỏ bản nháp",
    fix: "Sửa",
    discard: "Bỏ",
    confirmDiscard: "Bỏ hẳn biểu mẫu này? Nó sẽ không được gửi.",
    voidIt: "Huỷ",
    voidReason: "Lý do huỷ",
    voidSave: "Gửi yêu cầu huỷ",
    voided: "đã huỷ",
    voiding: "đang huỷ",
    rejected: "Máy chủ từ chối",
    rejectedHelp: "Sửa lại (sẽ thành biểu mẫu mới) hoặc bỏ.",
    campaign: "Chiến dịch",
    ward: "Phường/xã",
    choose: "— chọn —",
    required: "Bắt buộc",
    optional: "không bắt buộc",
    household: "Hộ gia đình",
    pickHousehold: "Tìm hộ đã có",
    newHousehold: "Hộ mới",
    noHousehold: "Chưa chọn hộ",
    householdNew: "Hộ mới (chưa có trên máy chủ)",
    searchHint: "Địa chỉ, hoặc 3 số cuối của số định danh",
    noMatch: "Không tìm thấy.",
    doneDoor: "Đã đến",
    records: "người",
    gifts: "quà",
    helps: "lần giúp",
    counted: "đã tính",
    suspected: "nghi trao trùng",
    doubleTitle: "Có thể trao trùng quà",
    doubleText: "Hộ này đã nhận \u201c{kind}\u201d đợt {round} ({status}). Trao thêm sẽ bị " +
      "đánh dấu nghi trùng để trưởng nhóm xem xét.",
    saveAnyway: "Vẫn lưu",
    goBack: "Quay lại",
    updateReady: "Có phiên bản mới của ứng dụng.",
    updateNow: "Cập nhật",
    updateWaitForm: "Hãy lưu hoặc đóng biểu mẫu đang mở trước khi cập nhật.",
    inApp: "Bạn đang mở trong ứng dụng khác (Zalo, Facebook…). Hãy mở đường dẫn này bằng " +
      "Chrome hoặc Safari để dùng được khi không có mạng:",
    insecure: "Trang này không mở bằng HTTPS nên không dùng được khi mất mạng. Báo quản trị " +
      "viên cấu hình HTTPS.",
    storageKept: "Dữ liệu được giữ lâu dài trên máy.",
    storageNotKept: "Trình duyệt chưa cho giữ lâu dài: hãy gửi thường xuyên.",
    language: "English",
    statusOf: "Trạng thái",
    fieldError: "{field}: {message}",
    errors: {
      required: "Bắt buộc phải điền.",
      type: "Giá trị không hợp lệ.",
      null: "Bắt buộc phải điền.",
      min: "Phải từ {min} trở lên.",
      max: "Tối đa là {max}.",
      min_length: "Phải có ít nhất {min_length} ký tự.",
      max_length: "Tối đa {max_length} ký tự.",
      pattern: "Sai định dạng.",
      citizen_id: "Phải gồm đúng 12 chữ số.",
      code: "Chỉ gồm chữ không dấu, số, '-', '_' hoặc '.', tối đa 64 ký tự.",
      choices: "Hãy chọn một mục.",
      decimals: "Tối đa {decimals} chữ số thập phân.",
      control: "Có ký tự không hợp lệ.",
      uuid: "Mã hộ không hợp lệ.",
      unknown: "Trường không có trong biểu mẫu.",
    },
  },
  en: {
    app: "Door to door",
    enrolTitle: "Enrol this phone",
    enrolHelp: "Type the code your ward lead gave you, or scan the QR code with the camera.",
    code: "Enrolment code",
    phoneName: "Phone name",
    phoneNameDefault: "My phone",
    enrol: "Enrol",
    enrolling: "Enrolling…",
    enrolled: "Enrolled. Loading the forms and households…",
    alreadyEnrolled: "This phone is already enrolled; the code in the link was not used.",
    enrolRefused: "The code is wrong, used or expired. Ask your ward lead for a new one.",
    enrolOffline: "No network. Enrolling needs the network once.",
    revoked: "This phone was revoked or has expired. Ask your ward lead for a new code and " +
      "enrol again: the forms not yet sent are kept and will be sent.",
    online: "Online",
    offline: "Offline — you can keep recording; forms go out later",
    unsent: "Not sent: {n}",
    receipt: "The server has {n} of your {m} forms",
    noReceipt: "No receipt from the server yet",
    lastSync: "Last sent: {t}",
    sendNow: "Send now",
    sending: "Sending…",
    sentOk: "All sent",
    resent: "The server had lost {n} of your forms; they were sent again.",
    sendFailed: "Not sent yet: {reason}",
    busy: "The server is busy; trying again later.",
    record: "Record a form",
    search: "Find a household",
    drafts: "Unfinished",
    outbox: "Waiting to be sent",
    sentList: "Sent",
    nothing: "Nothing yet.",
    resume: "Resume",
    save: "Save",
    saved: "Saved on the phone",
    cancel: "Close",
    discardDraft: "Discard draft",
    fix: "Fix",
    discard: "Discard",
    confirmDiscard: "Discard this form for good? It will not be sent.",
    voidIt: "Void",
    voidReason: "Why void it",
    voidSave: "Send the void",
    voided: "voided",
    voiding: "being voided",
    rejected: "Refused by the server",
    rejectedHelp: "Fix it (it becomes a new form) or discard it.",
    campaign: "Campaign",
    ward: "Ward",
    choose: "— choose —",
    required: "Required",
    optional: "optional",
    household: "Household",
    pickHousehold: "Find a known household",
    newHousehold: "New household",
    noHousehold: "No household chosen",
    householdNew: "New household (not on the server yet)",
    searchHint: "Address, or the last 3 digits of the ID number",
    noMatch: "Nothing found.",
    doneDoor: "Done",
    records: "people",
    gifts: "gifts",
    helps: "help visits",
    counted: "counted",
    suspected: "suspected double",
    doubleTitle: "Possibly a second gift",
    doubleText: "This household already has \u201c{kind}\u201d in round {round} ({status}). " +
      "Another one will be marked as a suspected double for the ward lead.",
    saveAnyway: "Save anyway",
    goBack: "Go back",
    updateReady: "A new version of the app is ready.",
    updateNow: "Update",
    updateWaitForm: "Save or close the open form before updating.",
    inApp: "You opened this inside another app (Zalo, Facebook…). Open the link in Chrome or " +
      "Safari so that it works with no network:",
    insecure: "This page is not served over HTTPS, so it cannot work offline. Ask the " +
      "administrator to set up HTTPS.",
    storageKept: "The data is kept on this phone.",
    storageNotKept: "The browser may clear the data: send often.",
    language: "Tiếng Việt",
    statusOf: "Status",
    fieldError: "{field}: {message}",
    errors: {
      required: "Required.",
      type: "Not a valid value.",
      null: "Required.",
      min: "Must be at least {min}.",
      max: "Must be at most {max}.",
      min_length: "At least {min_length} characters.",
      max_length: "At most {max_length} characters.",
      pattern: "Wrong format.",
      citizen_id: "Must be exactly 12 digits.",
      code: "Only letters without accents, digits, '-', '_' or '.', up to 64.",
      choices: "Choose one.",
      decimals: "At most {decimals} decimal places.",
      control: "Contains characters that are not allowed.",
      uuid: "Not a valid household.",
      unknown: "Not a field of this form.",
    },
  },
};

let current = "vi";

export function setLang(lang) {
  current = WORDS[lang] ? lang : "vi";
  document.documentElement.lang = current;
}

export function lang() {
  return current;
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (_, key) => (key in params ? String(params[key]) : `{${key}}`));
}

export function t(key, params = {}) {
  const text = WORDS[current][key] ?? WORDS.vi[key] ?? key;
  return fill(text, params);
}

export function errorText(rule, params = {}) {
  const text = WORDS[current].errors[rule] ?? WORDS[current].errors.type;
  return fill(text, params);
}

/** A {vi, en} label from the form definitions, in the current language. */
export function label(pair) {
  if (!pair) return "";
  return pair[current] || pair.vi || pair.en || "";
}

export function formatNumber(value) {
  return new Intl.NumberFormat(current === "vi" ? "vi-VN" : "en-GB").format(value);
}

export function formatTime(ms) {
  return new Intl.DateTimeFormat(current === "vi" ? "vi-VN" : "en-GB", {
    hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit",
  }).format(new Date(ms));
}
