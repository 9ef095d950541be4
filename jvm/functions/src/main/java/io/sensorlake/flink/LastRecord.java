package io.sensorlake.flink;

import java.util.Arrays;
import java.util.function.Function;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.binary.BinaryStringData;

/**
 * The last text a thread asked about, and what was computed from it.
 *
 * <p>Flink's generated code evaluates a derived column again at every reference (the source's
 * event time in the column, again in the watermark, again in each check), and the calls on one
 * record follow each other in the thread that runs the record's operator chain. So a one-entry
 * memory per thread answers all but the first call of a record. The text is kept as a copy and
 * compared by content: Flink may reuse the memory of a row it has passed on.
 */
final class LastRecord {
    private static final int MAX_ANSWERS = 16;

    private BinaryStringData text;
    private Object parsed;
    private StringData[] questions = new StringData[4];
    private Object[] answers = new Object[4];
    private int size;

    /** How an answer is computed the first time: from the record (its text, its parse) and the question. */
    interface Question<T> {
        T answer(LastRecord record, String question);
    }

    /** The answer to {@code question} about {@code text}: remembered when the text is the one held, else computed and remembered. */
    Object ask(StringData text, StringData question, Question<?> compute) {
        if (holds(text)) {
            for (int i = 0; i < size; i++) {
                if (questions[i].equals(question)) {
                    return answers[i];
                }
            }
        }
        Object answer = compute.answer(this, question.toString());
        if (size < MAX_ANSWERS) {
            if (size == questions.length) {
                questions = Arrays.copyOf(questions, size * 2);
                answers = Arrays.copyOf(answers, size * 2);
            }
            questions[size] = ((BinaryStringData) question).copy();
            answers[size++] = answer;
        }
        return answer;
    }

    /** The parse of the text held, made by {@code parser} the first time it is asked for. */
    Object parsed(Function<String, Object> parser) {
        if (parsed == null) {
            parsed = parser.apply(text());
        }
        return parsed;
    }

    /** True when {@code candidate} is the text held; otherwise it becomes the text held, with no answers. */
    private boolean holds(StringData candidate) {
        if (text != null && text.equals(candidate)) {
            return true;
        }
        text = ((BinaryStringData) candidate).copy();
        parsed = null;
        Arrays.fill(answers, 0, size, null);
        Arrays.fill(questions, 0, size, null);
        size = 0;
        return false;
    }

    String text() {
        return text.toString();
    }
}
