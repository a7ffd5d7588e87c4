"""MNIST digits with a 784-30-10 network, one digit at a time.

Each Layer keeps its weights, its input and its output; Network._propagate_back walks the
layers from the last to the first and updates every layer's weights in place as it goes.
"""
import numpy as np
import matplotlib.pyplot as plt
import mnist_loader

LEARNING_RATE = 0.05
EPOCHS = 30


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_derivative(output):
    # written with the layer's output: s'(z) = s(z) * (1 - s(z))
    return output * (1 - output)


class Layer:
    def __init__(self, n_inputs, n_neurons):
        self.weights = np.random.uniform(-1, 1, (n_inputs, n_neurons))
        self.biases = np.random.uniform(-1, 1, (1, n_neurons))
        self.inputs = None
        self.output = None

    def forward(self, inputs):
        self.inputs = inputs
        self.output = sigmoid(np.dot(inputs, self.weights) + self.biases)
        return self.output


class Network:
    def __init__(self, sizes, learning_rate=LEARNING_RATE):
        self.layers = [Layer(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.learning_rate = learning_rate

    def _propagate_forward(self, x):
        activation = np.array(x, ndmin=2)   # one digit as a row (1, 784)
        for layer in self.layers:
            activation = layer.forward(activation)
        return activation

    def _propagate_back(self, target):
        target = np.array(target, ndmin=2)
        last = self.layers[-1]
        error = target - last.output
        delta = error * sigmoid_derivative(last.output)
        for i in reversed(range(len(self.layers))):
            layer = self.layers[i]
            if i > 0:
                error = np.dot(delta, layer.weights.T)   # before this layer's weights move
            layer.weights += self.learning_rate * np.dot(layer.inputs.T, delta)
            layer.biases += self.learning_rate * delta
            if i > 0:
                delta = error * sigmoid_derivative(self.layers[i - 1].output)

    def train(self, training_data, test_data, epochs):
        accuracies = []
        for epoch in range(epochs):
            np.random.shuffle(training_data)
            for x, y in training_data:
                self._propagate_forward(x)
                self._propagate_back(y)
            accuracies.append(self.evaluate(test_data))
            print("epoch", epoch, "accuracy", accuracies[-1])
        return accuracies

    def evaluate(self, test_data):
        hits = sum(int(np.argmax(self._propagate_forward(x)) == y) for x, y in test_data)
        return hits / len(test_data)


training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
training_data = [(x.ravel(), y.ravel()) for x, y in training_data]
test_data = [(x.ravel(), y) for x, y in test_data]
network = Network([784, 30, 10])
accuracies = network.train(training_data, test_data, EPOCHS)
plt.plot(accuracies)
plt.show()
