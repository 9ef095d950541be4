package io.sensorlake.flink;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.Function;
import org.apache.flink.table.data.StringData;

/**
 * Constant look-up tables written as text, each parsed once into a hash map.
 *
 * <p>A table is the text {@code key US value RS key US value ...}: entries separated by the ASCII
 * record separator (U+001E), key and value by the unit separator (U+001F), as
 * {@code sensorlake.streaming.sql.lookup_table_literal} writes it. Flink's generated code passes a
 * string literal as the same object on every call, so a table is parsed the first time it is seen
 * and found by identity afterwards. Several call sites of one function share its instance (one
 * table each), hence a map of tables, not one.
 *
 * <p>A MAP literal would be the natural argument, but Flink builds it again for every record
 * when it is a function's argument, and its own {@code map[key]} scans the keys one by one.
 */
final class LookupTables<V> {
    static final char ENTRY_SEPARATOR = '\u001e';
    static final char FIELD_SEPARATOR = '\u001f';
    /** More distinct tables than this means they are not constants: start over rather than grow. */
    private static final int MAX_TABLES = 64;

    private final Map<StringData, Map<StringData, V>> parsed = new IdentityHashMap<>();
    private final Function<String, V> parseValue;

    LookupTables(Function<String, V> parseValue) {
        this.parseValue = parseValue;
    }

    /** The value of {@code key} in {@code table}; null when either is null or the key is absent. */
    V get(StringData table, StringData key) {
        if (table == null || key == null) {
            return null;
        }
        Map<StringData, V> index = parsed.get(table);
        if (index == null) {
            if (parsed.size() >= MAX_TABLES) {
                parsed.clear();
            }
            index = parse(table.toString());
            parsed.put(table, index);
        }
        return index.get(key);
    }

    private Map<StringData, V> parse(String text) {
        Map<StringData, V> index = new HashMap<>();
        int start = 0;
        while (start < text.length()) {
            int end = text.indexOf(ENTRY_SEPARATOR, start);
            if (end < 0) {
                end = text.length();
            }
            int field = text.indexOf(FIELD_SEPARATOR, start);
            if (field < 0 || field > end) {
                throw new IllegalArgumentException("look-up table entry without a value: " + text.substring(start, end));
            }
            index.put(StringData.fromString(text.substring(start, field)), parseValue.apply(text.substring(field + 1, end)));
            start = end + 1;
        }
        return index;
    }
}
